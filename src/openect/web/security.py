"""Response headers that hold up against an attacker: a Content-Security-Policy and
``Cache-Control: no-store``.

:class:`SecurityHeadersMiddleware` sits right after WhiteNoise in ``MIDDLEWARE``, so it
sees every response the application makes (pages, API, the page cache's hits) but not
the static files, which WhiteNoise answers earlier with their own long-lived caching.

- **Content-Security-Policy** (:data:`CONTENT_SECURITY_POLICY`): scripts, styles, images,
  fonts and requests only from the site itself; no inline script (every script is a
  static file, JSON data blocks are not executed), no ``eval``, no plugins, no framing,
  forms post only to the site. Inline *style attributes* are allowed
  (``style-src-attr 'unsafe-inline'``): the dashboard draws its bars with data-driven
  widths and Swagger UI sets styles on its elements; a style attribute cannot run
  script, and with ``img-src``/``font-src`` limited to the site it cannot send data
  elsewhere either. ``<style>`` elements stay forbidden.
- **Cache-Control: no-store** on every response of the application: pages and API
  answers carry patient data and must not stay in a browser's or a proxy's cache.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

#: The policy, one directive per entry (joined with ``; ``).
CSP_DIRECTIVES: tuple[str, ...] = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-elem 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
#: The ``Content-Security-Policy`` header's value.
CONTENT_SECURITY_POLICY = "; ".join(CSP_DIRECTIVES)
#: The ``Cache-Control`` header's value on every response of the application.
NO_STORE = "no-store"
#: Features of the browser no page of the site needs.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """Add the Content-Security-Policy, Permissions-Policy and ``Cache-Control: no-store``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response["Cache-Control"] = NO_STORE
        if "Expires" in response:
            del response["Expires"]
        return response
