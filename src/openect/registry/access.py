"""Who may see and change what: actors, roles and the centre scope of every query.

Deny by default: :func:`readable` and :func:`writable` are the only ways the services
obtain rows, and they always apply the actor's scope. Clinicians and data managers read
and write their own centre; analysts read every centre, pseudonymised and without free
text, and write nothing; administrators read and write everything.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from openect.data.models import Centre, Record
from openect.errors import AccessDeniedError
from openect.registry.models import Membership, Role
from openect.registry.records import centre_path, registry_model

CENTRE_ROLES = frozenset({Role.CLINICIAN, Role.DATA_MANAGER})


@dataclass(frozen=True)
class Actor:
    """The person (or local command line) on whose behalf a service runs."""

    username: str
    role: Role
    centre_id: str | None = None

    def __post_init__(self) -> None:
        if self.role in CENTRE_ROLES and not self.centre_id:
            raise AccessDeniedError(
                f"user {self.username!r}: role {self.role.value} needs a centre"
            )

    @classmethod
    def of(cls, user: Any) -> Actor:
        """The actor of a Django user (from their membership); AccessDeniedError if none."""
        if user is None or not getattr(user, "is_authenticated", False):
            raise AccessDeniedError("not signed in")
        try:
            membership = Membership.objects.get(user=user)
        except Membership.DoesNotExist as error:
            raise AccessDeniedError(f"user {user.get_username()!r}: no registry role") from error
        return cls(user.get_username(), Role(membership.role), membership.centre_id)

    @classmethod
    def command_line(cls) -> Actor:
        """The local administrator running ``openect registry`` commands."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
        return cls(f"cli:{name}", Role.ADMIN, None)

    @property
    def pooled(self) -> bool:
        """True when the actor reads every centre."""
        return self.role in (Role.ANALYST, Role.ADMIN)

    @property
    def sees_free_text(self) -> bool:
        """Analysts never see free-text columns."""
        return self.role is not Role.ANALYST

    def may_write(self, centre_id: str | None) -> bool:
        """True when the actor may change a row of ``centre_id`` (None: a centre row)."""
        if self.role is Role.ADMIN:
            return True
        if self.role in CENTRE_ROLES:
            return centre_id is not None and centre_id == self.centre_id
        return False


def readable(actor: Actor, record: type[Record]) -> QuerySet[Any]:
    """Rows of ``record`` the actor may read (never unscoped for a centre role)."""
    rows = registry_model(record).objects.all()
    if actor.pooled:
        return rows
    if actor.role in CENTRE_ROLES and actor.centre_id:
        return rows.filter(**{centre_path(record): actor.centre_id})
    return rows.none()


def writable(actor: Actor, record: type[Record]) -> QuerySet[Any]:
    """Rows of ``record`` the actor may change."""
    if actor.role is Role.ADMIN:
        return registry_model(record).objects.all()
    if actor.role in CENTRE_ROLES and actor.centre_id and record is not Centre:
        return registry_model(record).objects.filter(**{centre_path(record): actor.centre_id})
    return registry_model(record).objects.none()


def require_write(actor: Actor, centre_id: str | None, what: str) -> None:
    """Raise AccessDeniedError unless the actor may change ``what`` in ``centre_id``."""
    if not actor.may_write(centre_id):
        scope = f"centre {centre_id}" if centre_id else "the centres table"
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}"
            f"{', centre ' + actor.centre_id if actor.centre_id else ''}) "
            f"may not change {what} of {scope}"
        )
