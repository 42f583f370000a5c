"""Security headers of the static pages: one definition for CloudFront and the local stack."""

from __future__ import annotations


def content_security_policy(api_origin: str) -> str:
    """A strict CSP: no inline script or style, only our own files, API calls only to the API origin."""
    connect = "'self'" if not api_origin else f"'self' {api_origin}"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def security_headers(api_origin: str) -> dict[str, str]:
    """Headers every page response carries."""
    return {
        "Content-Security-Policy": content_security_policy(api_origin),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    }
