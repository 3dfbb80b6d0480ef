"""Settings of the web edge: body and JSON limits, Content-Security-Policy, HTTPS behind a proxy.

Defaults suit the embedded default on plain http; README "Production" lists the values that make
`python manage.py check --deploy` clean behind a TLS-terminating reverse proxy (deploy/nginx/).
"""

from __future__ import annotations

from csp.constants import NONCE, NONE, SELF

from gateway.settings.base import env

# JSON (bodies and the JSON fields of a multipart send) nested deeper than this is 400
# `invalid_json`; the deepest the API itself takes is three levels.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

# HTTPS. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER names the header it sets to
# `https` (HTTP_X_FORWARDED_PROTO for deploy/nginx/gateway.conf); only set it when the proxy
# always sets or overwrites that header, or a client could claim https itself.
_proxy_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers and supervisors probe /health, and Prometheus scrapes /metrics (behind its own
# token or address list), over plain http on the private side.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# Content-Security-Policy (django-csp) on every answer: the dashboard loads only its own files
# (vendored htmx and uPlot, no CDN), no inline script or style but those carrying the request's
# nonce (the API docs page), QR codes as data: images. CSP_REPORT_ONLY=true only reports.
_csp = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Where the dashboard may connect besides itself (the event stream's origin: settings/__init__).
DASHBOARD_CONNECT_SRC = _csp["DIRECTIVES"]["connect-src"]
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp
else:
    CONTENT_SECURITY_POLICY = _csp
