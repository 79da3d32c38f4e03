"""Administration of API tokens: every user's tokens (never a secret), a new token for
a user (shown once, on the answer to the form), revocation.

Tokens are issued and revoked as ``openect web token`` / ``token-revoke`` do
(:class:`openect.web.models.ApiToken`; the access log names the token's user); these
pages also write an audit entry naming the administrator who acted (entity
``api_tokens``, record id the token's id), in the same transaction.

| URL | methods | name |
|---|---|---|
| ``/manage/tokens/`` | GET, POST (issue) | ``manage-tokens`` |
| ``/manage/tokens/<id>/revoke/`` | POST | ``manage-token-revoke`` |
"""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from openect.errors import NotFoundError
from openect.registry.access import Actor
from openect.registry.accounts import audit_token, shown
from openect.registry.models import AuditAction
from openect.web.models import ApiToken, hash_token
from openect.web.pages.manage_common import Submitted, admin_page, form_page

log = logging.getLogger(__name__)

#: Longest label of a token (the model's column) and user name.
LABEL_LENGTH = 100
USERNAME_LENGTH = 150
#: Longest validity of a token (days), as ``openect web token --days``.
MAX_DAYS = 3650
#: Longest expiry text read (a date is 10 characters).
DATE_LENGTH = 16
#: Tokens listed at most.
LISTED = 500
#: Statuses the list filters by.
STATUSES = ("active", "expired", "revoked")


def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _expiry_days(form: Submitted, today: dt.date) -> int | None:
    """Days from ``today`` to the form's expiry date (None: the default validity);
    refused unless after today and at most :data:`MAX_DAYS` away."""
    text = form.text("expires", DATE_LENGTH, required=False)
    if not text or "expires" in form.errors:
        return None
    last = today + dt.timedelta(days=MAX_DAYS)
    allowed = f"allowed {today + dt.timedelta(days=1)} to {last}"
    try:
        chosen = dt.date.fromisoformat(text)
    except ValueError:
        form.refuse("expires", f"expires={shown(text)}: not a date (YYYY-MM-DD); {allowed}")
        return None
    if chosen <= today:
        form.refuse("expires", f"expires={text!r}: today or in the past; {allowed}")
        return None
    if chosen > last:
        form.refuse("expires", f"expires={text!r}: too far ahead; {allowed}")
        return None
    return (chosen - today).days


def _page(
    request: HttpRequest,
    form: Submitted | None = None,
    issued: str | None = None,
    issued_token: ApiToken | None = None,
) -> HttpResponse:
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    tokens = ApiToken.every.select_related("user")
    who = request.GET.get("user", "").strip()[:USERNAME_LENGTH]
    status = request.GET.get("status", "").strip()
    now = timezone.now()
    if who:
        tokens = tokens.filter(user__username=who)
    if status == "active":
        tokens = tokens.filter(revoked__isnull=True, expires__gt=now)
    elif status == "expired":
        tokens = tokens.filter(revoked__isnull=True, expires__lte=now)
    elif status == "revoked":
        tokens = tokens.filter(revoked__isnull=False)
    today = timezone.now().date()
    context = {
        "tokens": tokens[:LISTED],
        "listed": LISTED,
        "users": [u.get_username() for u in users],
        "filter_user": who,
        "filter_status": status if status in STATUSES else "",
        "statuses": STATUSES,
        "issued": issued,
        "issued_token": issued_token,
        "min_date": today + dt.timedelta(days=1),
        "max_date": today + dt.timedelta(days=MAX_DAYS),
        "max_days": MAX_DAYS,
        "section": "tokens",
    }
    return form_page(request, "web/manage/tokens.html", context, form)


@admin_page("GET", "POST")
def tokens(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Every user's API tokens (filter by user and status); POST issues one (user,
    label, expiry date), shown once on the answer; audited."""
    if request.method != "POST":
        return _page(request)
    form = Submitted(request.POST)
    username = form.text("user", USERNAME_LENGTH)
    label = form.text("label", LABEL_LENGTH, required=False) or "api"
    days = _expiry_days(form, timezone.now().date())
    user = None
    if username and "user" not in form.errors:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            form.refuse("user", f"user={shown(username)}: no such active user")
    if not form.ok or user is None:
        return _page(request, form)
    with transaction.atomic():  # a token the audit trail cannot name is not issued
        issued = ApiToken.issue(user, label, days)
        row = ApiToken.every.get(digest=hash_token(issued))
        audit_token(
            actor,
            row.pk,
            AuditAction.CREATE,
            None,
            {"user": username, "label": label, "expires": _when(row.expires)},
            "API token issued (administration page)",
        )
    log.info("tokens: %s issued token %s for user %r", actor.username, row.pk, username)
    return _page(request, None, issued=issued, issued_token=row)


@admin_page("POST")
def token_revoke(request: HttpRequest, actor: Actor, token_id: int) -> HttpResponse:
    """Revoke one token (answered 401 from now on); audited; back to the list."""
    with transaction.atomic():
        found = (
            ApiToken.every.select_related("user")
            .select_for_update(of=("self",))
            .filter(pk=token_id)
            .first()
        )
        if found is None:
            raise NotFoundError(f"token={token_id}: no such token")
        before = found.status
        revoked = ApiToken.every.filter(pk=token_id).revoke()
        if revoked:
            audit_token(
                actor,
                token_id,
                AuditAction.UPDATE,
                {"user": found.user.get_username(), "label": found.name, "status": before},
                {"user": found.user.get_username(), "label": found.name, "status": "revoked"},
                "API token revoked (administration page)",
            )
    owner = found.user.get_username()
    if revoked:
        log.info("tokens: %s revoked token %s of user %r", actor.username, token_id, owner)
        messages.success(request, f"Token {token_id} of {owner} revoked.")
    else:
        messages.info(request, f"Token {token_id} of {owner} was already revoked.")
    return redirect("manage-tokens")
