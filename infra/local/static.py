"""The static site (`web/`), as S3 + CloudFront serve it in AWS: files by path, never a listing.

`/` is the signup page; a path ending in `/` is that folder's `index.html`; a folder without the
slash redirects to it (so `/dashboard` reaches `/dashboard/`, the fragment kept by the browser).
Dot-files, `..` and anything resolving outside `web/` are simply not found.

The local stack's own pages (`infra/local/phone/`, the end user's phone at `/_local/phone`) are
served by a second `StaticSite` rooted at their folder: they are never part of `web/`, so never deployed.
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
# The end user's phone: a local-only page, served under `/_local/phone/...` with its root at `/_local/phone`.
PHONE_DIR = Path(__file__).resolve().parent / "phone"
PHONE_PATH = "/_local/phone"


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
    def __init__(self, root: Path, root_page: tuple[str, ...] = ROOT_PAGE) -> None:
        self._root = root.resolve()
        # The file `/` serves: the signup page for `web/`, `index.html` for a single-page folder.
        self._root_page = root_page

    def resolve(self, url_path: str) -> StaticFile | Redirect | None:
        """The file for a (still percent-encoded) URL path, a redirect to its folder, or None."""
        path = unquote(url_path)
        if "\x00" in path or "\\" in path or not path.startswith("/"):
            return None
        segments = [s for s in path.split("/") if s]
        if any(s.startswith(".") for s in segments):
            return None
        if not segments:
            segments = list(self._root_page)
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


def phone_site(root: Path = PHONE_DIR) -> StaticSite:
    """The phone page's files: `/` (that is, `/_local/phone` itself) is its `index.html`."""
    return StaticSite(root, root_page=("index.html",))
