"""QR codes of the contact points' deep links, as SVG data URLs: made here (segno, pure Python, no network), shown by
the dashboard as an `<img>` (its CSP allows `img-src 'self' data:`), never inserted as markup.

segno and the mask search are imported on first use: only the dashboard's trial view draws codes, and nothing else
that loads the dashboard's logic (its other routes, the admin CLI) pays their import.

The symbol is segno's, byte for byte, with the data mask segno would choose, but chosen by `trialgw.qr_masks`: segno's
own search scores the eight masks module by module in Python, about 4 ms of a code's 5, and the dashboard's first
answer draws six codes on a cold start.
"""

from __future__ import annotations

from base64 import b64encode
from functools import lru_cache
from io import BytesIO
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segno import QRCode

# Error correction M (15 %) survives a phone camera's glare on a screen; a border of 4 modules is the standard quiet
# zone a reader needs.
ERROR = "m"
BORDER = 4
SCALE = 4


def qr_svg(content: str) -> bytes:
    """`content` as a QR code in a standalone SVG (with its namespace, so it shows as an image; no XML declaration)."""
    import segno  # see the module docstring

    from trialgw.qr_masks import best_mask, remask

    # Drawn with mask 0, whose matrix gives the data modules every mask is scored on, then turned into the best.
    code = segno.make_qr(content, error=ERROR, boost_error=False, mask=0)
    remask(code, best_mask(code.matrix))
    return svg_of(code)


def svg_of(code: QRCode) -> bytes:
    """A segno QR code drawn as the dashboard shows it."""
    out = BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        svgclass=None,
        lineclass=None,
        scale=SCALE,
        border=BORDER,
        dark="#000",
        light="#fff",
    )
    return out.getvalue()


# The dashboard polls its trial view, and each view draws every contact point's code: an instance draws a link once.
# 256 links of a few KB each, for the trials an instance serves.
@lru_cache(maxsize=256)
def qr_data_url(content: str) -> str:
    """`content` as an `<img src>`: a base64 SVG data URL."""
    return "data:image/svg+xml;base64," + b64encode(qr_svg(content)).decode("ascii")


__all__ = ["qr_data_url", "qr_svg", "svg_of"]
