"""Administration of users: the list, a new user with a role (and centre), a user's
role, deactivation and reactivation (never deletion: the audit trail names users), and
the reset of a lost second factor. Administrators only; every change audited with the
administrator as actor (entity ``users``), through the services of
:mod:`openect.registry.accounts` that ``openect registry user`` uses.

| URL | methods | name |
|---|---|---|
| ``/manage/`` | GET | ``manage`` (to the users) |
| ``/manage/users/`` | GET | ``manage-users`` |
| ``/manage/new-user/`` | GET, POST (create) | ``manage-user-new`` |
| ``/manage/users/<username>/`` | GET | ``manage-user`` |
| ``/manage/users/<username>/role/`` | POST | ``manage-user-role`` |
| ``/manage/users/<username>/active/`` | POST | ``manage-user-active`` |
| ``/manage/users/<username>/second-factor/reset/`` | POST | ``manage-user-second-factor`` |
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_otp.plugins.otp_totp.models import TOTPDevice

from openect.data.models import Centre
from openect.errors import InputError, NotFoundError
from openect.registry.access import Actor, readable
from openect.registry.accounts import (
    audit_second_factor,
    change_role,
    check_new_username,
    create_user,
    set_active,
    shown,
)
from openect.registry.models import ROLE_LABELS, Membership, Role
from openect.web.models import ApiToken
from openect.web.pages.manage_common import Submitted, admin_page, form_page
from openect.web.pages.second_factor import required_roles

log = logging.getLogger(__name__)

#: Longest user name (Django's column) and password typed.
USERNAME_LENGTH = 150
PASSWORD_LENGTH = 256
#: Longest centre id (the data model's identifiers).
CENTRE_LENGTH = 64
#: Roles that belong to one centre.
CENTRE_ROLES = (Role.CLINICIAN.value, Role.DATA_MANAGER.value)
#: The services' field names on the forms.
FIELDS = {"username": "username", "role": "role", "centre": "centre", "centre_id": "centre"}


@dataclass(frozen=True)
class UserRow:
    """One user as the list shows them."""

    username: str
    active: bool
    role: str
    centre_id: str | None
    second_factor: str
    second_factor_required: bool
    last_login: Any
    tokens: int


def _second_factors() -> dict[int, str]:
    """``confirmed`` or ``pending`` by user id (users without a device are absent)."""
    states: dict[int, str] = {}
    for user_id, confirmed in TOTPDevice.objects.values_list("user_id", "confirmed"):
        if confirmed or user_id not in states:
            states[user_id] = "confirmed" if confirmed else "pending"
    return states


def user_rows(user_filter: dict[str, Any] | None = None) -> list[UserRow]:
    """Every user (or those of ``user_filter``), by name: role, centre, second factor,
    last sign-in and usable API tokens."""
    users = get_user_model().objects.filter(**(user_filter or {})).order_by("username")
    memberships = {m.user_id: m for m in Membership.objects.all()}
    factors = _second_factors()
    tokens: dict[int, int] = {}
    for user_id in ApiToken.objects.values_list("user_id", flat=True):
        tokens[user_id] = tokens.get(user_id, 0) + 1
    required = required_roles()
    rows = []
    for user in users:
        membership = memberships.get(user.pk)
        role = membership.role if membership else ""
        rows.append(
            UserRow(
                username=user.get_username(),
                active=user.is_active,
                role=role,
                centre_id=membership.centre_id if membership else None,
                second_factor=factors.get(user.pk, "none"),
                second_factor_required=role in required,
                last_login=user.last_login,
                tokens=tokens.get(user.pk, 0),
            )
        )
    return rows


def _choices(actor: Actor) -> dict[str, Any]:
    """The roles and centres the forms offer."""
    centres = list(readable(actor, Centre).order_by("centre_id").values_list("centre_id", "name"))
    return {
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role],
        "centres": centres,
        "centre_roles": CENTRE_ROLES,
    }


def _role_and_centre(form: Submitted) -> tuple[str, str | None]:
    """The role and centre of a form; the centre refused where the role has none, and
    required where it has one."""
    role = form.text("role", 32)
    centre = form.text("centre", CENTRE_LENGTH, required=False) or None
    if role and role not in {r.value for r in Role}:
        allowed = ", ".join(r.value for r in Role)
        form.refuse("role", f"role={shown(role)}: unknown; allowed {allowed}")
    elif role in CENTRE_ROLES and not centre and "centre" not in form.errors:
        form.refuse("centre", f"centre: required for role {role}")
    elif role and role not in CENTRE_ROLES and centre:
        form.refuse("centre", f"centre={shown(centre)}: not allowed for role {role} (all centres)")
    return role, centre


@admin_page("GET")
def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The administration's first page: the users."""
    return redirect("manage-users")


@admin_page("GET")
def users(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Every user: active, role and centre, second factor, last sign-in, tokens."""
    rows = user_rows()
    context = {"rows": rows, "section": "users", "me": actor.username}
    return form_page(request, "web/manage/users.html", context, None)


@admin_page("GET", "POST")
def user_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    """A new user: name, role, centre (clinicians and data managers) and a password the
    administrator sets (checked by the password policy; told to the user in person)."""
    context = {"section": "users", **_choices(actor)}
    if request.method != "POST":
        return form_page(request, "web/manage/user_new.html", context, None)
    form = Submitted(request.POST)
    username = form.text("username", USERNAME_LENGTH)
    if username and "username" not in form.errors:
        try:
            check_new_username(username)
        except ValueError as error:
            form.refuse("username", str(error))
    role, centre = _role_and_centre(form)
    password = str(request.POST.get("password", ""))
    again = str(request.POST.get("password_again", ""))
    if not password:
        form.refuse("password", "password: required")
    elif len(password) > PASSWORD_LENGTH:
        form.refuse("password", f"password: allowed at most {PASSWORD_LENGTH} characters")
    elif password != again:
        form.refuse("password_again", "password_again: not the same as password")
    if form.ok:
        try:
            create_user(actor, username, role, centre, password)
        except ValueError as error:
            form.refuse_error(error, {**FIELDS, "password": "password"}, "username")
    if not form.ok:
        return form_page(request, "web/manage/user_new.html", context, form)
    log.info("users: %s created user %r (%s)", actor.username, username, role)
    messages.success(
        request,
        f"User {username} created: {role}{' of ' + centre if centre else ''}. "
        "Give them the password in person; "
        + (
            "they set up their second factor at the first sign-in."
            if role in required_roles()
            else "they may set up a second factor on their account page."
        ),
    )
    return redirect("manage-user", username=username)


def _user_or_404(username: str) -> Any:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFoundError(f"username={shown(username)}: no such user")
    return user


def _detail(
    request: HttpRequest, actor: Actor, username: str, form: Submitted | None = None
) -> HttpResponse:
    """The page of one user (with the refusals of ``form``: 422)."""
    _user_or_404(username)
    row = user_rows({"username": username})[0]
    tokens = ApiToken.every.filter(user__username=username)[:50]
    context = {
        "row": row,
        "tokens": tokens,
        "section": "users",
        "is_me": username == actor.username,
        "role_values": form.values
        if form is not None and "role" in form.values
        else {"role": row.role, "centre": row.centre_id or ""},
        **_choices(actor),
    }
    return form_page(request, "web/manage/user.html", context, form)


@admin_page("GET")
def user_detail(request: HttpRequest, actor: Actor, username: str) -> HttpResponse:
    """One user: role and centre, active, second factor, API tokens; the forms that
    change them."""
    return _detail(request, actor, username)


@admin_page("POST")
def user_role(request: HttpRequest, actor: Actor, username: str) -> HttpResponse:
    """Change a user's role (and centre); audited."""
    _user_or_404(username)
    form = Submitted(request.POST)
    role, centre = _role_and_centre(form)
    if form.ok:
        try:
            change_role(actor, username, role, centre)
        except ValueError as error:
            form.refuse_error(error, FIELDS, "role")
    if not form.ok:
        return _detail(request, actor, username, form)
    log.info("users: %s gave user %r the role %s", actor.username, username, role)
    messages.success(request, f"User {username}: {role}{' of ' + centre if centre else ''}.")
    return redirect("manage-user", username=username)


@admin_page("POST")
def user_active(request: HttpRequest, actor: Actor, username: str) -> HttpResponse:
    """Deactivate (``active=false``) or reactivate (``active=true``) a user; audited.
    A deactivated user cannot sign in and their API tokens are revoked."""
    _user_or_404(username)
    form = Submitted(request.POST)
    wanted = form.text("active", 5)
    if wanted and wanted not in ("true", "false"):
        form.refuse("active", f"active={shown(wanted)}: allowed true, false")
    changed = False
    if form.ok:
        try:
            changed = set_active(actor, username, wanted == "true")
        except ValueError as error:
            form.refuse_error(error, {}, "active")
    if not form.ok:
        return _detail(request, actor, username, form)
    state = "reactivated" if wanted == "true" else "deactivated (API tokens revoked)"
    if changed:
        log.info("users: %s %s user %r", actor.username, state.split()[0], username)
        messages.success(request, f"User {username} {state}.")
    else:
        messages.info(request, f"User {username} was already {state.split()[0]}; nothing changed.")
    return redirect("manage-user", username=username)


@admin_page("POST")
def user_second_factor(request: HttpRequest, actor: Actor, username: str) -> HttpResponse:
    """Remove a user's second factor (a lost or new phone), as ``openect web otp-reset``
    does; audited. Where the role requires one, the user sets up a new one at the next
    sign-in."""
    user = _user_or_404(username)
    if username == actor.username:
        raise InputError(
            "second_factor: you cannot reset your own second factor here; ask another "
            "administrator (or run openect web otp-reset)"
        )
    with transaction.atomic():
        devices = TOTPDevice.objects.select_for_update().filter(user=user)
        confirmed = sum(1 for device in devices if device.confirmed)
        TOTPDevice.objects.filter(user=user).delete()
        if confirmed:
            audit_second_factor(
                actor, username, confirmed, 0, "second factor reset (administration page)"
            )
    if not confirmed:
        messages.info(request, f"User {username} had no second factor set up; nothing to reset.")
    else:
        log.warning(
            "second factor: %s removed the authenticator of user %r", actor.username, username
        )
        when = (
            " at the next sign-in" if user_rows({"pk": user.pk})[0].second_factor_required else ""
        )
        messages.success(
            request,
            f"Second factor of {username} removed; they set up a new one on their account "
            f"page{when}.",
        )
    return redirect("manage-user", username=username)
