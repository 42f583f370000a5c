"""Which request bodies count as JSON: one rule for the send gateway and sign-up."""

from __future__ import annotations

_JSON_TYPES = frozenset({"application/json", "text/json"})


def is_json_content_type(content_type: str | None) -> bool:
    """True for `application/json`, `text/json` and `application/<x>+json`, with any parameters or case.

    None of these is one a browser may post across sites without a CORS preflight (form types and `text/plain`
    are), so an API that requires them cannot be driven by another site's page.
    """
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in _JSON_TYPES:
        return True
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and subtype.endswith("+json") and len(subtype) > len("+json")
