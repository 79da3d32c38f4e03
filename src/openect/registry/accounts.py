"""Registry users: a Django user plus a membership (role and centre); changes audited."""

from __future__ import annotations

import datetime as dt
import re

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from openect.errors import AccessDeniedError
from openect.registry.access import Actor
from openect.registry.guard import service_write
from openect.registry.models import AuditAction, AuditEntry, Membership, Role
from openect.settings import PASSWORD_VALIDATORS

#: User names: Django's usual characters (no spaces or slashes).
USERNAME = re.compile(r"[\w.@+-]{1,150}")
#: Longest part of a value repeated in a message.
SHOWN_LENGTH = 40

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


def require_admin(actor: Actor, what: str = "users") -> None:
    """Refuse anyone but an administrator (AccessDeniedError: 403 on the pages)."""
    if actor.role is not Role.ADMIN:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not manage {what}"
        )


def shown(value: str, limit: int = SHOWN_LENGTH) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters (a 10 kB value is
    named, not repeated)."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} chars)"


def check_username(username: str) -> None:
    """Refuse a user name Django would not take (ValueError naming the rule)."""
    if not USERNAME.fullmatch(username or ""):
        raise ValueError(
            f"username={shown(username)}: allowed 1 to 150 letters, digits and @ . + - _"
        )


def check_new_username(username: str) -> None:
    """Refuse a user name Django would not take or that is taken, also in another
    letter case (ValueError naming the rule)."""
    check_username(username)
    taken = get_user_model().objects.filter(username__iexact=username).first()
    if taken is not None:
        raise ValueError(
            f"username={shown(username)}: already taken (by {taken.get_username()!r}); "
            "choose another name"
        )


def create_user(
    actor: Actor, username: str, role: str, centre_id: str | None, password: str
) -> None:
    """Create the new user ``username`` with ``role`` (and ``centre_id``) and
    ``password``; admins only, audited (:func:`set_user`).

    ValueError when the name is taken (also in another letter case: ``Dr.One`` and
    ``dr.one`` would be two people to Django but one to a reader of the audit trail),
    the role or centre is unknown or the password breaks the policy; nothing is
    written then.
    """
    require_admin(actor)
    with transaction.atomic():
        check_new_username(username)
        if centre_id:
            check_centre(centre_id)
        try:
            with transaction.atomic():  # the row first: a second creation at once fails
                get_user_model().objects.create(username=username)
        except IntegrityError:
            raise ValueError(
                f"username={shown(username)}: already taken; choose another name"
            ) from None
        set_user(actor, username, role, centre_id, password)


def change_role(actor: Actor, username: str, role: str, centre_id: str | None) -> None:
    """Give the existing user ``username`` ``role`` (and ``centre_id``); admins only,
    audited. An administrator cannot change their own role (nobody could be left to
    manage the registry)."""
    require_admin(actor)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise LookupError(f"username={shown(username)}: no such user")
    if username == actor.username:
        raise ValueError("role: you cannot change your own role; ask another administrator")
    if centre_id:
        check_centre(centre_id)
    set_user(actor, username, role, centre_id)


def set_active(actor: Actor, username: str, active: bool) -> bool:
    """Reactivate (``active``) or deactivate ``username``; admins only, audited.

    A deactivated user cannot sign in, their sessions end and their API tokens are
    revoked (:mod:`openect.web.models`); the user is never deleted, since the audit
    trail names them. An administrator cannot deactivate themselves. Returns False when
    the user already was in that state (nothing written).
    """
    require_admin(actor)
    if username == actor.username and not active:
        raise ValueError("active: you cannot deactivate yourself; ask another administrator")
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().filter(username=username).first()
        if user is None:
            raise LookupError(f"username={shown(username)}: no such user")
        if user.is_active == active:
            return False
        user.is_active = active
        user.save()
        centre_id = Membership.objects.filter(user=user).values_list("centre_id", flat=True).first()
        audit_user(
            actor,
            username,
            AuditAction.UPDATE,
            centre_id,
            {"is_active": not active},
            {"is_active": active},
            "user reactivated" if active else "user deactivated (tokens revoked)",
        )
    return True


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
    require_admin(actor)
    try:
        chosen: Role = Role(role)
    except ValueError as error:
        allowed = ", ".join(r.value for r in Role)
        raise ValueError(f"role={role!r}: unknown; allowed {allowed}") from error
    if chosen in (Role.CLINICIAN, Role.DATA_MANAGER) and not centre_id:
        raise ValueError(f"centre_id: required for role {chosen.value}")
    if chosen in (Role.ANALYST, Role.ADMIN):
        centre_id = None
    check_username(username)
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
    _audit_account(actor, "users", username, action, centre_id, before, after, reason)


def audit_token(
    actor: Actor,
    token_id: int,
    action: AuditAction,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    reason: str | None,
) -> None:
    """Write the audit entry of an API token issued or revoked by ``actor`` (entity
    ``api_tokens``, record id the token's id; never the token itself). The access log
    names the token's user; this entry names the administrator who acted."""
    _audit_account(actor, "api_tokens", str(token_id), action, None, before, after, reason)


def _audit_account(
    actor: Actor,
    entity: str,
    record_id: str,
    action: AuditAction,
    centre_id: str | None,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
    reason: str | None,
) -> None:
    with transaction.atomic(), service_write("user"):
        AuditEntry(
            at=dt.datetime.now(dt.UTC),
            actor=actor.username,
            role=actor.role.value,
            action=str(action),
            entity=entity,
            record_id=record_id,
            centre_id=centre_id,
            before=before,
            after=after,
            reason=reason,
        ).save()


def audit_second_factor(actor: Actor, username: str, before: int, after: int, reason: str) -> None:
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
