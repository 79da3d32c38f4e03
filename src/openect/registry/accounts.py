"""Registry users: a Django user plus a membership (role and centre); changes audited."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from openect.errors import AccessDeniedError
from openect.registry.access import Actor
from openect.registry.guard import service_write
from openect.registry.models import AuditAction, AuditEntry, Membership, Role
from openect.settings import PASSWORD_VALIDATORS

#: User names: Django's usual characters (no spaces or slashes).
USERNAME = re.compile(r"[\w.@+-]{1,150}")

#: The rule of each of Django's password validator codes (``AUTH_PASSWORD_VALIDATORS``).
PASSWORD_RULES = {
    "password_too_short": "minimum length",
    "password_too_common": "common password",
    "password_too_similar": "similar to the user's attributes",
    "password_entirely_numeric": "numbers only",
}


def check_password(password: str, user: object | None = None) -> None:
    """Refuse ``password`` that breaks the password policy
    (:data:`openect.settings.PASSWORD_VALIDATORS`, the web's ``AUTH_PASSWORD_VALIDATORS``,
    applied whatever Django's settings: the registry commands configure none).

    Raises ValueError ``password: refused (RULE): reason; ...`` naming every broken rule.
    """
    try:
        validators = password_validation.get_password_validators(
            [dict(v) for v in PASSWORD_VALIDATORS]
        )
        password_validation.validate_password(password, user, validators)
    except ValidationError as error:
        problems = [
            f"{PASSWORD_RULES.get(str(item.code), str(item.code))}: {' '.join(item.messages)}"
            for item in error.error_list
        ]
        raise ValueError("password: refused (" + "; ".join(problems) + ")") from None


def check_centre(centre_id: str) -> None:
    """Refuse a centre the registry does not hold (ValueError naming the known ones).

    A registry that holds no centre yet (users set up before the first import) accepts
    any centre id.
    """
    from openect.data.models import Centre
    from openect.registry.records import registry_model

    known = sorted(str(pk) for pk in registry_model(Centre).objects.values_list("pk", flat=True))
    if known and centre_id not in known:
        raise ValueError(
            f"centre={centre_id!r}: no such centre in the registry; known: {', '.join(known)}"
        )


def set_user(
    actor: Actor,
    username: str,
    role: str,
    centre_id: str | None = None,
    password: str | None = None,
) -> None:
    """Create or change ``username`` with ``role`` (and ``centre_id``); admins only.

    The password (if given) must pass the password policy (:func:`check_password`:
    ValueError naming the broken rule) and is stored hashed by Django; the audit entry
    records the role and centre before and after, never the password.
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
            check_password(password, user)
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
        audit_user(
            actor,
            username,
            AuditAction.CREATE if before is None else AuditAction.UPDATE,
            centre_id,
            before,
            {"role": str(chosen), "centre_id": centre_id},
            "password set" if password is not None else None,
        )


def audit_user(
    actor: Actor,
    username: str,
    action: AuditAction,
    centre_id: str | None,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    reason: str | None,
) -> None:
    """Write the audit entry of a change of the registry user ``username`` (entity
    ``users``; never a password or a secret in ``before`` / ``after``)."""
    with transaction.atomic(), service_write("user"):
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            actor=actor.username,
            role=actor.role.value,
            action=str(action),
            entity="users",
            record_id=username,
            centre_id=centre_id,
            before=before,
            after=after,
            reason=reason,
        ).save()


def audit_second_factor(
    actor: Actor, username: str, before: int, after: int, reason: str
) -> None:
    """Write the audit entry of a change of ``username``'s second factor: the number of
    confirmed authenticators before and after (never a secret)."""
    audit_user(
        actor,
        username,
        AuditAction.UPDATE,
        None,
        {"second_factor_devices": before},
        {"second_factor_devices": after},
        reason,
    )
