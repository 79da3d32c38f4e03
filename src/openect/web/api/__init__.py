"""The REST API (django-ninja): ``/api/``, schema at ``/api/openapi.json``, docs at ``/api/docs``.

Authentication: ``Authorization: Bearer <token>`` (tokens from ``openect web token`` or the
``/admin/tokens/`` page; they expire and may be revoked) or the signed-in session (with
its CSRF token). A call with neither is answered 401 (reads and writes alike); a
signed-in call without its CSRF token 403.
Every endpoint acts through the registry services, with the caller's role and centre.

The documentation page (``/api/docs``) loads Swagger UI from ninja's own static files
(``ninja`` is an installed app), never from a CDN: it works offline and under the
site's Content-Security-Policy.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI, Swagger
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from openect import __version__


class BearerToken(HttpBearer):
    """``Authorization: Bearer oect_...``: the token's user.

    The token is found by its SHA-256 (an indexed lookup, no comparison of secrets in
    Python); an unknown, expired or revoked token, or one of an inactive user, is 401.
    Not throttled: a token has 256 random bits.
    """

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        """The token's user, or None (401)."""
        from openect.web.models import ApiToken, hash_token

        # ApiToken.objects: neither revoked nor expired
        found = ApiToken.objects.select_related("user").filter(digest=hash_token(token)).first()
        if found is None or not found.user.is_active:
            return None
        ApiToken.objects.filter(pk=found.pk).update(last_used=timezone.now())
        request.user = found.user
        return found.user


class SessionAuth(NinjaSessionAuth):
    """The signed-in session, its CSRF token checked only when there is a session user.

    ninja's ``django_auth`` checks the CSRF token first, so a call without any
    credentials got 403 "CSRF check Failed"; here it falls through to 401.
    """

    def _get_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        """The session's user, or None (401) without one."""
        if key is None:
            return None
        return super().authenticate(request, key)


api = NinjaAPI(
    title="OpenECT API",
    version=__version__,
    description=(
        "Registry records, session and lesion planning for electrochemotherapy (ECT). "
        "Every call acts with the caller's role and centre; every change is audited."
    ),
    auth=[BearerToken(), SessionAuth()],
    docs=Swagger(),  # ninja.templates + ninja.static (installed app): no CDN
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)

from openect.web.api import routes  # noqa: E402,F401  (registers the routers)
