"""Account pages: API tokens of every user (administrators only), the second factor.

| URL | methods | name |
|---|---|---|
| ``/admin/tokens/`` | GET, POST (issue) | ``admin-tokens`` |
| ``/admin/tokens/<id>/revoke/`` | POST | ``admin-token-revoke`` |
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from openect.errors import AccessDeniedError, NotFoundError
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.web.models import ApiToken
from openect.web.pages.common import allow, with_actor

#: Longest label of a token (the model's column).
LABEL_LENGTH = 100


def locked_out(request: HttpRequest, response: Any, credentials: Any) -> HttpResponse:
    """The page of a refused sign-in (too many failures; django-axes calls it): 429."""
    cooloff = settings.AXES_COOLOFF_TIME
    context = {
        "minutes": int(cooloff.total_seconds() // 60),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "web/accounts/locked.html", context, status=429)


def _admin_only(actor: Actor) -> None:
    """Refuse anyone but an administrator (403)."""
    if actor.role is not Role.ADMIN:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not manage tokens"
        )


def _page(request: HttpRequest, issued: str | None = None, **extra: object) -> HttpResponse:
    """The token list with the issue form (and the token just issued, shown once)."""
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    context = {
        "tokens": ApiToken.every.select_related("user")[:500],
        "users": [u.get_username() for u in users],
        "issued": issued,
        **extra,
    }
    status = 422 if "error" in extra else 200
    return render(request, "web/accounts/tokens.html", context, status=status)


@allow("GET", "POST")
@with_actor
def tokens(request: HttpRequest, actor: Actor) -> HttpResponse:
    """List every API token; POST issues one (user, label, days) and shows it once."""
    _admin_only(actor)
    if request.method != "POST":
        return _page(request)
    username = request.POST.get("user", "")
    label = request.POST.get("label", "").strip() or "api"
    days_text = request.POST.get("days", "").strip()
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        return _page(request, error=f"user={username[:64]!r}: no such active user")
    if len(label) > LABEL_LENGTH:
        return _page(request, error=f"label: too long; allowed at most {LABEL_LENGTH} characters")
    days = None
    if days_text:
        if not days_text.isdigit() or not 1 <= int(days_text) <= 3650:
            return _page(request, error=f"days={days_text[:16]!r}: allowed 1 to 3650")
        days = int(days_text)
    issued = ApiToken.issue(user, label, days)
    return _page(request, issued=issued, issued_for=username)


@allow("POST")
@with_actor
def revoke(request: HttpRequest, actor: Actor, token_id: int) -> HttpResponse:
    """Revoke one token (it is answered 401 from now on); back to the list."""
    _admin_only(actor)
    found = ApiToken.every.select_related("user").filter(pk=token_id).first()
    if found is None:
        raise NotFoundError(f"token {token_id}: not found")
    ApiToken.every.filter(pk=token_id).revoke()
    messages.success(request, f"Token {token_id} of {found.user.get_username()} revoked.")
    return redirect("admin-tokens")
