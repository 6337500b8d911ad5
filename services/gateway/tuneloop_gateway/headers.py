"""The security headers of every HTML page the gateway serves: the report pages and /docs."""

SECURITY_HEADERS = {
    # Scripts, styles and images from the gateway only: no inline script, no CDN.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
