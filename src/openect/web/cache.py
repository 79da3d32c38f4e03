"""Pages served again from memory until the registry changes.

The home page (worklist or patient list), the patient list, the patient pages and the
API's record lists are read far more often than the registry changes.
:class:`RegistryPageCacheMiddleware` keeps the rendered response of such a GET, per user
and session (or API token) and the user's role and centre, in the worker's memory, keyed
by the registry's *version* and today's date (the worklist changes at midnight).

The version follows commit order. Every change of the registry writes audit entries in
its transaction (the services guarantee it) and the audit table is append-only (the
database refuses updates and deletes), so the *number* of audit entries grows with
every commit, whichever commits first. The id of the newest entry does not: ids are
allocated at insert, so a transaction that inserted first (smaller id) but commits
last would leave the newest id unchanged and the pages cached in between stale.

The key holds the user's role and centre as the registry has them now, so a change of
role or membership (audited or not) drops that user's cached pages at once, in every
worker. Pages with pending messages are never served from or written to the cache.

A page served from memory is a read like any other: the reads its view logged in the
access log (:mod:`openect.web.access_log`) are kept with it and logged again, now and
from this request's address, each time it is served; when they cannot be logged the
page is not served from memory (the view runs and answers 503).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from django.core.cache import cache
from django.db.models import Count, Max
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from openect.data.models import ENTITIES
from openect.registry.access_log import AccessLogUnavailableError
from openect.registry.models import AuditEntry, Membership
from openect.web.access_log import reads_of, replay

#: Paths whose GET responses are cached.
CACHED_PATHS = (
    re.compile(r"^/$"),
    re.compile(r"^/patients/$"),
    re.compile(r"^/worklist/$"),
    re.compile(r"^/patients/(?!new/|find/)[^/]+/$"),
    re.compile(r"^/api/(%s)/$" % "|".join(r.table for r in ENTITIES)),  # noqa: UP031
)
#: Seconds a cached page may live even without changes.
TIMEOUT_S = 300


def registry_version() -> str:
    """The number of audit entries and the newest id (``"0:0"`` for an empty registry).

    The count changes with every commit that writes (the table is append-only), in
    commit order; the newest id alone would not (see the module's docstring).
    """
    found = AuditEntry.objects.aggregate(entries=Count("id"), newest=Max("id"))
    return f"{int(found['entries'] or 0)}:{int(found['newest'] or 0)}"


def _membership(user_id: object) -> str:
    """The user's role and centre as the registry has them now (``-`` without one)."""
    found = Membership.objects.filter(user_id=user_id).values_list("role", "centre_id").first()
    return "-" if found is None else f"{found[0]}@{found[1] or ''}"


def _identity(request: HttpRequest) -> str | None:
    """Who is asking: user and session, or user and API token; None when nobody."""
    header = request.headers.get("Authorization")
    if header is not None and request.path.startswith("/api/"):
        # exactly as the API authenticates (ninja's HttpBearer): "<bearer> <token>", any
        # case, token as sent; anything else falls back to the session there, so it is
        # never cached here
        parts = header.split(" ")
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None
        from openect.web.models import ApiToken, hash_token

        digest = hash_token(parts[1])
        token = (
            ApiToken.objects.filter(digest=digest, user__is_active=True)
            .values_list("user_id", flat=True)
            .first()
        )
        if token is None:
            return None
        return f"token:{token}:{digest}:{_membership(token)}"
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return f"user:{user.pk}:{request.session.session_key}:{_membership(user.pk)}"


def _pending_messages(request: HttpRequest) -> bool:
    storage = getattr(request, "_messages", None)
    return storage is not None and len(storage) > 0


class RegistryPageCacheMiddleware:
    """Serve cached GETs of :data:`CACHED_PATHS` while the registry version is unchanged."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "GET" or not any(p.match(request.path) for p in CACHED_PATHS):
            return self.get_response(request)
        identity = _identity(request)
        if identity is None or _pending_messages(request):
            return self.get_response(request)
        # today's date too: the worklist's sessions and follow-ups change at midnight
        raw = f"{identity}|{request.get_full_path()}|{registry_version()}|{timezone.localdate()}"
        key = "openect-page:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()
        hit = cache.get(key)
        if isinstance(hit, tuple) and len(hit) == 3:
            content, content_type, reads = hit
            try:
                replay(request, reads)
            except AccessLogUnavailableError:
                return self.get_response(request)  # the view refuses it (503)
            response = HttpResponse(content, content_type=content_type)
            response["X-OpenECT-Cache"] = "hit"
            return response
        response = self.get_response(request)
        storage = getattr(request, "_messages", None)
        used = bool(getattr(storage, "used", False))
        if response.status_code == 200 and not response.streaming and not used:
            entry = (response.content, response.get("Content-Type"), reads_of(request))
            cache.set(key, entry, TIMEOUT_S)
        return response
