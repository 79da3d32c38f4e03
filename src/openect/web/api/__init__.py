"""The REST API (django-ninja): ``/api/``, schema at ``/api/openapi.json``, docs at ``/api/docs``.

Authentication: ``Authorization: Bearer <token>`` (tokens from ``openect web token`` or the
account page) or the signed-in session (with its CSRF token). Every endpoint acts
through the registry services, with the caller's role and centre.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.security import HttpBearer, django_auth

from openect import __version__


class BearerToken(HttpBearer):
    """``Authorization: Bearer oect_...``: the token's user."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from openect.web.models import ApiToken, hash_token

        found = ApiToken.objects.select_related("user").filter(digest=hash_token(token)).first()
        if found is None or not found.user.is_active:
            return None
        ApiToken.objects.filter(pk=found.pk).update(last_used=timezone.now())
        request.user = found.user
        return found.user


api = NinjaAPI(
    title="OpenECT API",
    version=__version__,
    description=(
        "Registry records, session and lesion planning for electrochemotherapy (ECT). "
        "Every call acts with the caller's role and centre; every change is audited."
    ),
    auth=[BearerToken(), django_auth],
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)

from openect.web.api import routes  # noqa: E402,F401  (registers the routers)
