"""Registry users: a Django user plus a membership (role and centre); changes audited."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth import get_user_model
from django.db import transaction

from openect.errors import AccessDeniedError
from openect.registry.access import Actor
from openect.registry.guard import service_write
from openect.registry.models import AuditAction, AuditEntry, Membership, Role

#: User names: Django's usual characters (no spaces or slashes).
USERNAME = re.compile(r"[\w.@+-]{1,150}")


def set_user(
    actor: Actor,
    username: str,
    role: str,
    centre_id: str | None = None,
    password: str | None = None,
) -> None:
    """Create or change ``username`` with ``role`` (and ``centre_id``); admins only.

    The password (if given) is stored hashed by Django; the audit entry records the
    role and centre before and after, never the password.
    """
    if actor.role is not Role.ADMIN:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not manage users"
        )
    try:
        chosen: Role = Role(role)
    except ValueError as error:
        allowed = ", ".join(r.value for r in Role)
        raise ValueError(f"role={role!r}: unknown; allowed {allowed}") from error
    if chosen in (Role.CLINICIAN, Role.DATA_MANAGER) and not centre_id:
        raise ValueError(f"centre_id: required for role {chosen.value}")
    if chosen in (Role.ANALYST, Role.ADMIN):
        centre_id = None
    if not USERNAME.fullmatch(username or ""):
        raise ValueError(f"username={username!r}: allowed 1 to 150 letters, digits and @ . + - _")
    users = get_user_model()
    with transaction.atomic():
        user, _ = users.objects.get_or_create(username=username)
        if password is not None:
            if len(password) < 8:
                raise ValueError("password: too short; allowed >= 8 characters")
            user.set_password(password)
            user.save()
        membership = Membership.objects.filter(user=user).first()
        before = (
            None
            if membership is None
            else {"role": membership.role, "centre_id": membership.centre_id}
        )
        if membership is None:
            membership = Membership(user=user)
        membership.role = str(chosen)
        membership.centre_id = centre_id
        membership.save()
        with service_write("user"):
            AuditEntry(
                at=dt.datetime.now(dt.UTC),
                actor=actor.username,
                role=actor.role.value,
                action=str(AuditAction.CREATE if before is None else AuditAction.UPDATE),
                entity="users",
                record_id=username,
                centre_id=centre_id,
                before=before,
                after={"role": str(chosen), "centre_id": centre_id},
                reason="password set" if password is not None else None,
            ).save()
