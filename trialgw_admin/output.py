"""What a command prints: JSON with --json, small aligned tables otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A message's text in a human table is cut to this many characters (--json has all of it).
TEXT_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Output:
    """What a command prints: `data` as JSON with --json, `text` otherwise.

    `follow` is more output as it happens (`messages tail --follow`), each printed the moment it comes; such a
    stream is JSON Lines with --json, so `compact` puts each JSON object on one line.
    """

    data: Mapping[str, Any]
    text: str
    follow: Iterator[Output] | None = None
    compact: bool = False

    def render(self, as_json: bool) -> str:
        if not as_json:
            return self.text
        return json.dumps(self.data) if self.compact else json.dumps(self.data, indent=2)


def iso_utc(epoch: float | None) -> str | None:
    from trialgw.quotas import iso_utc as iso

    return None if epoch is None else iso(epoch)


def table(rows: Sequence[tuple[str, str]]) -> str:
    """Label and value pairs, the values lined up."""
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"  {label:<{width}}  {value}" for label, value in rows)


def columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under their column headers, each column as wide as its widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  " + "  ".join(f"{c:<{w}}" for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def listing(heading: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """`heading`, then the rows under their headers, or `(none)`."""
    return f"{heading}\n{columns(headers, rows) if rows else '  (none)'}"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short(text: str | None) -> str:
    """A message's text on one line of a table, cut to TEXT_WIDTH characters."""
    return "-" if text is None else clip(" ".join(text.split()), TEXT_WIDTH)
