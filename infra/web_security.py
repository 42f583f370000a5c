"""Security headers of the static pages: one definition for CloudFront and the local stack."""

from __future__ import annotations

# Where AWS WAF's JavaScript SDK (the sign-up Challenge) loads from and calls: its script is under the
# web ACL's integration URL (https://<id>.<region>.sdk.awswaf.com/...) and it calls other WAF endpoints,
# so AWS's documentation ("Using the JavaScript API with content security policies") allows the apex.
WAF_SDK_SOURCE = "https://*.awswaf.com"


def content_security_policy(api_origin: str, *, waf_challenge_sdk: bool = False) -> str:
    """A strict CSP: no inline script or style, only our own files, API calls only to the API origin;
    with `waf_challenge_sdk`, also AWS WAF's Challenge SDK (script and calls)."""
    connect = " ".join(filter(None, ("'self'", api_origin, WAF_SDK_SOURCE if waf_challenge_sdk else "")))
    script = " ".join(filter(None, ("'self'", WAF_SDK_SOURCE if waf_challenge_sdk else "")))
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src {script}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def security_headers(api_origin: str, *, waf_challenge_sdk: bool = False) -> dict[str, str]:
    """Headers every page response carries (the local stack has no WAF, so never `waf_challenge_sdk`)."""
    return {
        "Content-Security-Policy": content_security_policy(api_origin, waf_challenge_sdk=waf_challenge_sdk),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    }
