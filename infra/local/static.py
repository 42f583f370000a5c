"""The static site (`web/`), as S3 + CloudFront serve it in AWS: files by path, never a listing.

`/` is the signup page; a path ending in `/` is that folder's `index.html`; a folder without the
slash redirects to it (so `/dashboard` reaches `/dashboard/`, the fragment kept by the browser).
Dot-files, `..` and anything resolving outside `web/` are simply not found.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

# Explicit types for what the pages use: mimetypes depends on the host's /etc/mime.types.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".map": "application/json",
}
ROOT_PAGE = ("signup", "index.html")


@dataclass(frozen=True, slots=True)
class StaticFile:
    path: Path
    content_type: str


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class StaticSite:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def resolve(self, url_path: str) -> StaticFile | Redirect | None:
        """The file for a (still percent-encoded) URL path, a redirect to its folder, or None."""
        path = unquote(url_path)
        if "\x00" in path or "\\" in path or not path.startswith("/"):
            return None
        segments = [s for s in path.split("/") if s]
        if any(s.startswith(".") for s in segments):
            return None
        if not segments:
            segments = list(ROOT_PAGE)
        candidate = self._root.joinpath(*segments)
        if path.endswith("/") and path != "/":
            candidate = candidate / "index.html"
        elif candidate.is_dir():
            # Built from the cleaned segments, so never a protocol-relative `//host` location.
            location = "/" + "/".join(quote(s) for s in segments) + "/"
            return Redirect(location) if (candidate / "index.html").is_file() else None
        resolved = candidate.resolve()
        # resolve() follows symlinks: whatever is served must really live under web/.
        if not resolved.is_relative_to(self._root) or not resolved.is_file():
            return None
        return StaticFile(resolved, content_type(resolved))
