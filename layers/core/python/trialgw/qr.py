"""QR codes of the contact points' deep links, as SVG data URLs: made here (segno, pure Python, no network), shown by
the dashboard as an `<img>` (its CSP allows `img-src 'self' data:`), never inserted as markup.

segno is imported on first use: only the dashboard's trial view draws codes, and no other function pays its import.
"""

from __future__ import annotations

from base64 import b64encode
from functools import lru_cache
from io import BytesIO

# Error correction M (15 %) survives a phone camera's glare on a screen; a border of 4 modules is the standard quiet
# zone a reader needs.
ERROR = "m"
BORDER = 4
SCALE = 4


def qr_svg(content: str) -> bytes:
    """`content` as a QR code in a standalone SVG (with its namespace, so it shows as an image; no XML declaration)."""
    import segno  # see the module docstring

    out = BytesIO()
    segno.make_qr(content, error=ERROR, boost_error=False).save(
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


# The dashboard polls its trial view, and each view draws every contact point's code (segno's mask search, about 5 ms
# of CPU each): an instance draws a link once. 256 links of a few KB each, for the trials an instance serves.
@lru_cache(maxsize=256)
def qr_data_url(content: str) -> str:
    """`content` as an `<img src>`: a base64 SVG data URL."""
    return "data:image/svg+xml;base64," + b64encode(qr_svg(content)).decode("ascii")


__all__ = ["qr_data_url", "qr_svg"]
