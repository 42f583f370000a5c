"""The data mask of a QR code (ISO/IEC 18004:2015 §7.8), chosen as segno chooses it, at a fraction of the cost.

§7.8.3 says the mask with the lowest penalty shall be used, and segno finds it by scoring all eight masks module by
module in Python. `mask_penalties` computes the same eight scores, segno's reading of the four features included, on
whole matrices at once; `remask` turns a code segno drew with mask 0 into the same code with another mask. Proven
against segno itself (tests/unit/test_qr_masks.py): every mask's score, the choice, and the SVG, byte for byte, over
every version.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from segno import QRCode

# A matrix is laid out as one byte per module (0 light, 1 dark), row after row, each row followed by 4 separator bytes
# (2) and the whole preceded by a row's worth of them: no pattern or run crosses a row, 4 separators read as the light
# beyond the symbol's edge, and a module compared with a separator is never "the same colour". Read as a
# little-endian integer, the layout takes a whole mask in one XOR and its neighbours by shifts. Columns are scored on
# the transposed layout.

# The eight data mask conditions (Table 10), i = row, j = column: the module is inverted where true.
_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, _j: i % 2 == 0,
    lambda _i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
_PERIOD = 12  # every condition repeats every 12 rows and columns (periods 2, 3, 4 and 6)
# The error correction level's indicator (§7.9.1): the format information's first two bits.
_ERROR_BITS = {"L": 1, "M": 0, "Q": 3, "H": 2}
_SEPARATOR = 2
_GAP = 4  # separators after each row
# Feature 3, 1:1:3:1:1 (dark:light:dark:light:dark), read as segno reads a line: from its start, each occurrence
# scores (group 1 matched) when 4 light modules or the edge precede or follow it, and the search resumes after it;
# one that does not score consumes its first 4 modules, so an occurrence overlapping its end is still read.
_FINDER_LIKE = re.compile(
    rb"\x01\x00\x01\x01(?:((?<=[\x00\x02]{4}\x01\x00\x01\x01)\x01\x00\x01|\x01\x00\x01(?=[\x00\x02]{4}))|(?=\x01\x00\x01))"
)
_IS_ZERO = bytes.maketrans(bytes(range(256)), b"\x01" + bytes(255))


class _Layout(NamedTuple):
    """What scoring a symbol of one size needs, built once per size."""

    stride: int  # bytes per row: its modules and its separators
    length: int  # bytes in the layout
    full: int  # every bit of the layout set
    separators: int  # 0x80 on each separator byte
    keep: int  # 0xFF but 0 on the format and version areas and the dark module
    data_masks: tuple[int, ...]  # per mask: 1 on each module of the encoding region it inverts
    data_masks_transposed: tuple[int, ...]


def _flat(rows: Sequence[bytes | bytearray] | Sequence[Sequence[int]], fill: int) -> bytes:
    gap = bytes((fill,)) * _GAP
    return gap[:1] * (len(rows[0]) + _GAP) + b"".join(bytes(row) + gap for row in rows)


def _alignment_centres(version: int) -> list[int]:
    """Annex E's row/column coordinates of the alignment patterns' centres (none for version 1)."""
    if version == 1:
        return []
    count = version // 7 + 2
    step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
    size = version * 4 + 17
    return [6, *reversed([size - 7 - i * step for i in range(count - 1)])]


@cache
def _layout(size: int) -> _Layout:
    """The encoding region and the reserved areas of a symbol `size` modules wide (§6.3, §7.9, §7.10), both
    symmetric about the diagonal: their own transposes."""
    version = (size - 17) // 4
    region = [bytearray(b"\x01" * size) for _ in range(size)]
    reserved = [bytearray(size) for _ in range(size)]

    def mark(rows: range, cols: range, into: list[bytearray], value: int) -> None:
        for i in rows:
            into[i][cols.start : cols.stop] = bytes((value,)) * len(cols)

    last = range(size - 8, size)
    for rows, cols in ((range(8), range(8)), (range(8), last), (last, range(8))):  # finders and their separators
        mark(rows, cols, region, 0)
    mark(range(6, 7), range(size), region, 0)  # timing patterns
    mark(range(size), range(6, 7), region, 0)
    centres = _alignment_centres(version)
    on_finders = {(centres[0], centres[0]), (centres[0], centres[-1]), (centres[-1], centres[0])} if centres else set()
    for x in centres:
        for y in centres:
            if (x, y) not in on_finders:
                mark(range(x - 2, x + 3), range(y - 2, y + 3), region, 0)
    # The format areas beside the finders (the dark module among them) and from version 7 the version areas: outside
    # the encoding region, and still blank when segno scores the masks (the timing modules crossing them excepted).
    areas = [(range(8, 9), range(9)), (range(9), range(8, 9)), (range(8, 9), last), (last, range(8, 9))]
    if version >= 7:
        areas += [(range(6), range(size - 11, size - 8)), (range(size - 11, size - 8), range(6))]
    for rows, cols in areas:
        mark(rows, cols, region, 0)
        mark(rows, cols, reserved, 1)
    reserved[6][8] = reserved[8][6] = 0

    region_bits = int.from_bytes(_flat(region, 0), "little")
    repeats = size // _PERIOD + 1

    def data_masks(tiles: tuple[tuple[bytes, ...], ...]) -> tuple[int, ...]:
        return tuple(
            int.from_bytes(_flat([(tile[i % _PERIOD] * repeats)[:size] for i in range(size)], 0), "little")
            & region_bits
            for tile in tiles
        )

    stride = size + _GAP
    length = stride * (size + 1)
    full = (1 << 8 * length) - 1
    separators = int.from_bytes(_flat([bytes(size)] * size, 0x80), "little")
    keep = full ^ int.from_bytes(_flat(reserved, 0), "little") * 0xFF
    return _Layout(stride, length, full, separators, keep, data_masks(_tiles()), data_masks(_tiles(True)))


@cache
def _tiles(transposed: bool = False) -> tuple[tuple[bytes, ...], ...]:
    """Each mask's condition on a 12 x 12 tile (or its transpose), the period every condition repeats."""
    return tuple(
        tuple(bytes(condition(j, i) if transposed else condition(i, j) for j in range(_PERIOD)) for i in range(_PERIOD))
        for condition in _MASKS
    )


def _runs_penalty(lines: int, shape: _Layout) -> int:
    """Feature 1: each run of 5 + i modules of one colour in a line scores 3 + i: the windows of 5 equal modules
    (1 + i in the run) plus 2 for each run (the first of its windows)."""
    differs_next = lines ^ (lines >> 8)
    unequal = (differs_next | differs_next >> 8 | differs_next >> 16 | differs_next >> 24 | shape.separators).to_bytes(
        shape.length, "little"
    )
    windows = int.from_bytes(unequal.translate(_IS_ZERO), "little")
    return windows.bit_count() + 2 * (windows & ~(windows << 8)).bit_count()


def mask_penalties(matrix: Sequence[bytes | bytearray]) -> list[int]:
    """The penalty (§7.8.3.1, features 1 to 4) of each of the eight masks on a QR code's matrix, as segno scores
    it: the encoding region with mask 0 undone and then each mask applied, the format and version areas blank.

    `matrix` is a finished QR code drawn with mask 0 (segno's `code.matrix`: rows of 0/1 modules, no border)."""
    size = len(matrix)
    shape = _layout(size)
    stride, length = shape.stride, shape.length
    # Mask 0 undone, and the format and version information (written after masking) blanked.
    rows = (int.from_bytes(_flat(matrix, _SEPARATOR), "little") ^ shape.data_masks[0]) & shape.keep
    columns = int.from_bytes(_flat(list(zip(*matrix, strict=True)), _SEPARATOR), "little")
    columns = (columns ^ shape.data_masks_transposed[0]) & shape.keep
    penalties = []
    for number in range(8):
        by_row = rows ^ shape.data_masks[number]
        by_column = columns ^ shape.data_masks_transposed[number]
        row_bytes = by_row.to_bytes(length, "little")
        finder_like = _FINDER_LIKE.findall(row_bytes) + _FINDER_LIKE.findall(by_column.to_bytes(length, "little"))
        # Feature 2: 3 for each 2x2 block of one colour: each module equal to its left, upper and upper-left
        # neighbours (never true of a separator, or beside one).
        differs = (by_row ^ (by_row << 8)) | (by_row ^ (by_row << 8 * stride)) | (by_row ^ (by_row << 8 * (stride + 1)))
        blocks = ((differs | shape.separators) & shape.full).to_bytes(length, "little").count(0)
        # Feature 4: 10 for each full 5 % the dark modules' share is from 50 % (segno's float arithmetic).
        balance = 10 * int(abs(float(row_bytes.count(1)) / (size * size) * 100 - 50) / 5)
        penalties.append(
            _runs_penalty(by_row, shape)
            + _runs_penalty(by_column, shape)
            + 3 * blocks
            + 40 * (len(finder_like) - finder_like.count(b""))
            + balance
        )
    return penalties


def best_mask(matrix: Sequence[bytes | bytearray]) -> int:
    """The mask a QR code drawn with mask 0 (`matrix`) should have: the lowest penalty, the first of equals."""
    penalties = mask_penalties(matrix)
    return penalties.index(min(penalties))


def _format_bits(error: str, mask: int) -> int:
    """§7.9.1: the error level and mask (5 bits), a BCH(15, 5) code of them, XOR 101010000010010."""
    data = _ERROR_BITS[error] << 3 | mask
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder) ^ 0x5412


def _format_modules(size: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The two copies of the format information (§7.9.1), (row, column) of bits 0 to 14: around the upper-left
    finder, and split between the upper-right and lower-left ones."""
    around = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, 14 - i) for i in range(9, 15)]
    split = [(8, size - 1 - i) for i in range(8)] + [(size - 15 + i, 8) for i in range(8, 15)]
    return around, split


def remask(code: QRCode, mask: int) -> None:
    """Turn a QR code (segno's, never a Micro QR code) into the same code drawn with `mask`, in place: the encoding
    region's modules inverted by the change of mask, and the format information rewritten (the version information
    does not depend on the mask)."""
    if mask == code.mask:
        return
    matrix = code.matrix
    size = len(matrix)
    shape = _layout(size)
    flat = int.from_bytes(_flat(matrix, _SEPARATOR), "little")
    flat ^= shape.data_masks[code.mask] ^ shape.data_masks[mask]
    laid = flat.to_bytes(shape.length, "little")
    for i, row in enumerate(matrix, start=1):
        row[:] = laid[i * shape.stride : i * shape.stride + size]
    bits = _format_bits(code.error, mask)
    for copy in _format_modules(size):
        for bit, (i, j) in enumerate(copy):
            matrix[i][j] = bits >> bit & 1
    code.mask = mask


__all__ = ["best_mask", "mask_penalties", "remask"]
