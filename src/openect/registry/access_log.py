"""The access log: who read which patient's data, when, from where; sign-ins and tokens.

Each read of patient-level data (a patient's or lesion's page, an API item or list read,
an export, a centre's outcomes report), each sign-in, failed sign-in and sign-out, and
each API token issued or revoked is one :class:`~openect.registry.models.AccessEntry`,
written by :func:`record`.

**Fail closed.** A read of patient data that cannot be logged is refused:
:func:`record` raises :class:`AccessLogUnavailableError` (HTTP 503, exit code 2) and the
caller returns nothing. A registry that must account for every read may not hand out
data it could not account for; a broken log shows at once instead of leaving a gap. The
events whose purpose is protection - a failed sign-in, a sign-out, a token revocation -
are never blocked by the log: the adapters record them with :func:`record_quietly`,
which writes the failure to the server's log instead.

**Who sees it** (:func:`visible_entries`): administrators every entry; data managers
the entries about their centre's data (``centre_id``) and the entries of their centre's
users (``actor_centre_id``); clinicians and analysts none (AccessDeniedError).

**Retention.** Each entry is kept at least until ``keep_until`` (``at`` plus
``OPENECT_ACCESS_LOG_DAYS`` when written); the database refuses to delete it earlier and
refuses every change (migration 0005). :func:`purge` (``openect registry access-log
--purge``) deletes the entries past both their ``keep_until`` and the retention in force.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.db import DatabaseError, transaction
from django.db.models import Q, QuerySet

from openect.data.csvio import neutralised
from openect.data.models import Centre, Record
from openect.data.schema import columns
from openect.errors import AccessDeniedError, ConfigurationError, InputError
from openect.registry.access import Actor
from openect.registry.guard import service_write
from openect.registry.models import (
    AccessAction,
    AccessEntry,
    AccessQuerySet,
    AuditAction,
    AuditEntry,
    Channel,
    Role,
)
from openect.registry.records import centre_path, entity, registry_model
from openect.registry.retry import retry_write
from openect.settings import get_settings

__all__ = [
    "CSV_COLUMNS",
    "AccessAction",
    "AccessLogUnavailableError",
    "Channel",
    "Filters",
    "Read",
    "centre_of",
    "filter_entries",
    "list_centre",
    "parse_day",
    "purge",
    "record",
    "record_export",
    "record_quietly",
    "retention_days",
    "visible_entries",
    "write_csv",
]

LOG = logging.getLogger(__name__)
#: Columns of the CSV export, in this order.
CSV_COLUMNS = (
    "at",
    "actor",
    "role",
    "actor_centre_id",
    "action",
    "entity",
    "record_id",
    "query",
    "centre_id",
    "address",
    "channel",
)
#: Longest query text kept (the column's length).
QUERY_LENGTH = 500


class AccessLogUnavailableError(ConfigurationError):
    """The access log could not be written, so the read it would record is refused."""


@dataclass(frozen=True)
class Read:
    """What an entry says was done: the action, the table (or what), the record id or
    the query of a list, and the centre whose data it was (None: several or all)."""

    action: AccessAction
    entity: str = ""
    record_id: str = ""
    query: str = ""
    centre_id: str | None = None


def retention_days() -> int:
    """Days an entry is kept (``OPENECT_ACCESS_LOG_DAYS``)."""
    return int(get_settings().access_log_days)


def centre_of(record: type[Record], record_id: str) -> str | None:
    """The centre the row ``record_id`` of ``record`` belongs to (None when unknown; for
    the log only: callers have already checked the actor's scope)."""
    if record is Centre:
        return record_id
    found = (
        registry_model(record)
        .objects.filter(pk=record_id)
        .values_list(centre_path(record), flat=True)
        .first()
    )
    return None if found is None else str(found)


def list_centre(actor: Actor, record: type[Record], filters: Mapping[str, Any]) -> str | None:
    """The centre whose data a list read shows: the actor's own for clinicians and data
    managers; for pooled roles the centre a reference filter names (``centre_id``, or the
    centre of the patient, lesion or session filtered on), else None (several centres)."""
    if not actor.pooled:
        return actor.centre_id
    for column in columns(record):
        value = filters.get(column.name)
        if column.references is not None and value is not None:
            return centre_of(entity(column.references), str(value))
    return None


def _entry(
    who: str,
    role: str,
    who_centre: str | None,
    read: Read,
    channel: Channel,
    address: str | None,
    at: dt.datetime,
) -> AccessEntry:
    return AccessEntry(
        at=at,
        actor=who[:150],
        role=role,
        actor_centre_id=who_centre,
        action=str(read.action),
        entity=read.entity[:32],
        record_id=read.record_id[:200],
        query=read.query[:QUERY_LENGTH],
        centre_id=read.centre_id,
        address=address,
        channel=str(channel),
        keep_until=at + dt.timedelta(days=retention_days()),
    )


@retry_write
def _save(entries: list[AccessEntry]) -> None:
    with transaction.atomic():
        for entry in entries:
            entry.save()


def record(
    who: Actor | str,
    read: Read,
    channel: Channel,
    address: str | None = None,
    *,
    role: str = "",
    who_centre: str | None = None,
    at: dt.datetime | None = None,
) -> AccessEntry:
    """Write one entry; AccessLogUnavailableError when the database refuses it.

    ``who`` is the actor, or a user name without a registry role (a failed sign-in):
    ``role`` and ``who_centre`` apply then.
    """
    if isinstance(who, Actor):
        name, role, who_centre = who.username, who.role.value, who.centre_id
    else:
        name = who
    entry = _entry(name, role, who_centre, read, channel, address, at or dt.datetime.now(dt.UTC))
    try:
        _save([entry])
    except (DatabaseError, ConfigurationError) as error:
        LOG.error("access log: %s by %s not recorded: %s", read.action, name, error)
        raise AccessLogUnavailableError(
            "the access log cannot be written just now, so patient data are not shown; "
            "try again, or ask the administrator"
        ) from error
    return entry


def record_quietly(
    who: Actor | str,
    read: Read,
    channel: Channel,
    address: str | None = None,
    *,
    role: str = "",
    who_centre: str | None = None,
) -> AccessEntry | None:
    """:func:`record` for events that must never be blocked (failed sign-in, sign-out,
    token revocation): a failure is written to the server's log and None returned."""
    try:
        return record(who, read, channel, address, role=role, who_centre=who_centre)
    except AccessLogUnavailableError:
        return None


@retry_write
def _save_export(entry: AccessEntry, audit: AuditEntry) -> None:
    with transaction.atomic(), service_write("export"):
        entry.save()
        audit.save()


def record_export(
    actor: Actor,
    channel: Channel,
    address: str | None,
    counts: Mapping[str, int],
    detail: str,
) -> AccessEntry:
    """Log an export of the actor's scope in the access log *and* the audit trail (one
    transaction; AccessLogUnavailableError when either cannot be written).

    ``detail``: what was written (format, for people or round trip), kept in both.
    """
    at = dt.datetime.now(dt.UTC)
    scope = "all-centres" if actor.pooled else str(actor.centre_id)
    read = Read(AccessAction.EXPORT, "registry", scope, detail, actor.centre_id)
    entry = _entry(actor.username, actor.role.value, actor.centre_id, read, channel, address, at)
    audit = AuditEntry(
        at=at,
        actor=actor.username,
        role=actor.role.value,
        action=str(AuditAction.EXPORT),
        entity="registry",
        record_id=scope,
        centre_id=actor.centre_id,
        before=None,
        after={"channel": str(channel), "what": detail, "rows": dict(counts)},
        reason=None,
    )
    try:
        _save_export(entry, audit)
    except (DatabaseError, ConfigurationError) as error:
        LOG.error("access log: export by %s not recorded: %s", actor.username, error)
        raise AccessLogUnavailableError(
            "the export cannot be logged just now, so it is not made; try again, or ask "
            "the administrator"
        ) from error
    return entry


# --------------------------------------------------------------------------- reading
def visible_entries(actor: Actor) -> QuerySet[AccessEntry]:
    """The entries ``actor`` may see, newest first (see the module); AccessDeniedError
    for clinicians and analysts."""
    rows = AccessEntry.objects.order_by("-at", "-id")
    if actor.role is Role.ADMIN:
        return rows
    if actor.role is Role.DATA_MANAGER and actor.centre_id:
        return rows.filter(Q(centre_id=actor.centre_id) | Q(actor_centre_id=actor.centre_id))
    raise AccessDeniedError(
        f"user {actor.username!r} ({actor.role.value}) may not read the access log; "
        "allowed: administrators and data managers"
    )


def parse_day(field: str, value: str) -> dt.date:
    """A day written ``YYYY-MM-DD``; InputError naming ``field`` and ``value`` otherwise."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(
            f"{field}={value[:64]!r}: not a date; allowed a day written YYYY-MM-DD"
        ) from None


@dataclass(frozen=True)
class Filters:
    """Filters of a listing (each optional): user name, action, centre (of the data or
    of the user), first and last day (UTC, both included)."""

    user: str = ""
    action: str = ""
    centre: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def parse(cls, given: Mapping[str, str | None], field_names: Mapping[str, str]) -> Filters:
        """Filters from text (a query string, command-line options); ``field_names`` maps
        each filter to the name the user wrote (``since`` -> ``--since``), so that an
        InputError names it."""
        values = {k: (given.get(k) or "").strip() for k in ("user", "action", "centre")}
        action = values["action"]
        if action and action not in {a.value for a in AccessAction}:
            raise InputError(
                f"{field_names.get('action', 'action')}={action[:64]!r}: unknown action; "
                f"allowed {', '.join(a.value for a in AccessAction)}"
            )
        days: dict[str, dt.date | None] = {}
        for name in ("since", "until"):
            text = (given.get(name) or "").strip()
            days[name] = parse_day(field_names.get(name, name), text) if text else None
        since, until = days["since"], days["until"]
        if since is not None and until is not None and until < since:
            raise InputError(
                f"{field_names.get('until', 'until')}={until.isoformat()!r}: before "
                f"{field_names.get('since', 'since')}={since.isoformat()!r}; allowed a day "
                "on or after it"
            )
        return cls(values["user"], action, values["centre"], since, until)


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def filter_entries(rows: QuerySet[AccessEntry], filters: Filters) -> QuerySet[AccessEntry]:
    """``rows`` narrowed by ``filters``."""
    if filters.user:
        rows = rows.filter(actor=filters.user)
    if filters.action:
        rows = rows.filter(action=filters.action)
    if filters.centre:
        rows = rows.filter(Q(centre_id=filters.centre) | Q(actor_centre_id=filters.centre))
    if filters.since is not None:
        rows = rows.filter(at__gte=_start_of(filters.since))
    if filters.until is not None:
        rows = rows.filter(at__lt=_start_of(filters.until + dt.timedelta(days=1)))
    return rows


def as_row(entry: AccessEntry) -> dict[str, Any]:
    """An entry's :data:`CSV_COLUMNS` as JSON-ready values (``at`` in UTC, ISO 8601)."""
    values: dict[str, Any] = {name: getattr(entry, name) for name in CSV_COLUMNS}
    values["at"] = entry.at.astimezone(dt.UTC).isoformat()
    return values


def write_csv(entries: Iterable[AccessEntry], stream: IO[str]) -> int:
    """Write ``entries`` as CSV for people (text that a spreadsheet would run as a
    formula starts with ``'``, as in every export); return the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in entries:
        row = as_row(entry)
        writer.writerow(
            [neutralised(str(row[name])) if row[name] is not None else "" for name in CSV_COLUMNS]
        )
        count += 1
    return count


# --------------------------------------------------------------------------- retention
def purge(now: dt.datetime | None = None, days: int | None = None) -> int:
    """Delete the entries older than the retention (``days``, by default
    ``OPENECT_ACCESS_LOG_DAYS``) whose ``keep_until`` has passed; return how many.

    The database refuses to delete any other entry (migration 0005).
    """
    moment = now or dt.datetime.now(dt.UTC)
    keep = retention_days() if days is None else days
    cutoff = moment - dt.timedelta(days=keep)

    @retry_write
    def run() -> int:
        with transaction.atomic():
            old: AccessQuerySet = AccessEntry.objects.filter(at__lt=cutoff)
            return old.purge_expired(moment)

    return run()
