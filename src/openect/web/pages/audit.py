"""Audit pages: the recent audit entries visible to the actor, and one record's history.

Who sees which entries (:func:`visible_entries`):

* administrators: every entry (data tables, user changes, restores);
* clinicians and data managers: entries of the data tables whose ``centre_id`` is
  their centre;
* analysts: entries of the data tables of every centre (they read every centre), with
  the values of free-text columns (e.g. ``override_reason``) and the free-text reason
  blanked, as everywhere for analysts;
* nobody but administrators sees user-management entries (``users``) or restores.

A record's history (``/audit/<table>/<record_id>/``) is shown only when the actor may
read the record now (its whole history, since the record is theirs), or, for a deleted
record, the entries within the actor's scope; otherwise 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from openect.data.models import ENTITIES
from openect.data.schema import columns
from openect.errors import NotFoundError
from openect.registry.access import CENTRE_ROLES, Actor, readable
from openect.registry.models import AuditAction, AuditEntry, Role
from openect.registry.records import entity, registry_model
from openect.web.pages.common import allow, with_actor

#: Entries per page of the audit list.
PAGE_SIZE = 50
#: Tables of the data model (what non-administrators may see entries of).
DATA_TABLES = tuple(record.table for record in ENTITIES)
#: Shown instead of a value the actor may not see.
HIDDEN = "[hidden]"
#: Changed columns listed (with values) in the audit list's summary of an update.
SUMMARY_COLUMNS = 3


def visible_entries(actor: Actor) -> QuerySet[Any]:
    """Audit entries the actor may see (see the module docstring), newest first."""
    rows = AuditEntry.objects.order_by("-at", "-id")
    if actor.role is Role.ADMIN:
        return rows
    rows = rows.filter(entity__in=DATA_TABLES)
    if actor.role is Role.ANALYST:
        return rows
    if actor.role in CENTRE_ROLES and actor.centre_id:
        return rows.filter(centre_id=actor.centre_id)
    return rows.none()


def _free_text_columns(table: str) -> set[str]:
    if table not in DATA_TABLES:
        return set()
    return {c.name for c in columns(entity(table)) if c.free_text}


@dataclass
class Change:
    """One column of an entry: its value before and after."""

    column: str
    before: str
    after: str
    changed: bool


@dataclass
class EntryView:
    """An audit entry as shown: metadata, changed columns, the values (redacted)."""

    entry: Any
    reason: str
    changes: list[Change]
    summary: str
    linkable: bool


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "—"
    return str(value)


def entry_view(actor: Actor, entry: Any) -> EntryView:
    """The entry with before → after per column; free text blanked for analysts."""
    hide = set() if actor.sees_free_text else _free_text_columns(entry.entity)
    before: dict[str, Any] = entry.before if isinstance(entry.before, dict) else {}
    after: dict[str, Any] = entry.after if isinstance(entry.after, dict) else {}
    names = list(dict.fromkeys([*before, *after]))
    changes = []
    for name in names:
        old, new = before.get(name), after.get(name)
        if name in hide:
            old = HIDDEN if old not in (None, "") else old
            new = HIDDEN if new not in (None, "") else new
        changed = entry.action != AuditAction.UPDATE or before.get(name) != after.get(name)
        changes.append(Change(name, _shown(old), _shown(new), changed))
    if entry.action == AuditAction.UPDATE:
        moved = [c for c in changes if c.changed]
        shown = "; ".join(f"{c.column}: {c.before} → {c.after}" for c in moved[:SUMMARY_COLUMNS])
        more = len(moved) - SUMMARY_COLUMNS
        summary = (shown + (f"; {more} more" if more > 0 else "")) if moved else "no change"
    elif entry.action == AuditAction.CREATE:
        summary = "created"
    elif entry.action == AuditAction.DELETE:
        summary = "deleted"
    else:
        summary = str(entry.action)
    reason = entry.reason or ""
    if not actor.sees_free_text and reason:
        reason = HIDDEN
    return EntryView(
        entry=entry,
        reason=reason,
        changes=changes,
        summary=summary,
        linkable=entry.entity in DATA_TABLES or actor.role is Role.ADMIN,
    )


def record_history(actor: Actor, table: str, record_id: str) -> list[Any]:
    """Entries of one record, oldest first; NotFoundError when the actor may not see it."""
    missing = NotFoundError(f"{table}: no record {record_id!r} in your scope")
    if actor.role is Role.ADMIN:
        rows = list(AuditEntry.objects.filter(entity=table, record_id=record_id).order_by("id"))
        if not rows:
            raise missing
        return rows
    if table not in DATA_TABLES:
        raise missing
    record = entity(table)
    if readable(actor, record).filter(pk=record_id).exists():
        # only the entries of the actor's scope: an id may have been used before by a
        # record of another centre (deleted since) or the record may have moved
        return list(visible_entries(actor).filter(entity=table, record_id=record_id).order_by("id"))
    if registry_model(record).objects.filter(pk=record_id).exists():
        raise missing  # exists, but in another centre: look absent
    rows = list(visible_entries(actor).filter(entity=table, record_id=record_id).order_by("id"))
    if not rows:
        raise missing
    return rows


@allow("GET")
@with_actor
def audit_list(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """Recent audit entries visible to the actor, filtered by table, record id and action."""
    rows = visible_entries(actor)
    table = request.GET.get("table", "").strip()
    record_id = request.GET.get("record_id", "").strip()
    action = request.GET.get("action", "").strip()
    if table:
        rows = rows.filter(entity=table)
    if record_id:
        rows = rows.filter(record_id=record_id)
    if action:
        rows = rows.filter(action=action)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    tables = list(DATA_TABLES) + (["users", "registry"] if actor.role is Role.ADMIN else [])
    filters = {
        k: v for k, v in (("table", table), ("record_id", record_id), ("action", action)) if v
    }
    return render(
        request,
        "web/audit.html",
        {
            "page": page,
            "entries": [entry_view(actor, e) for e in page.object_list],
            "tables": tables,
            "actions": [a.value for a in AuditAction],
            "table": table,
            "record_id": record_id,
            "action": action,
            "query": urlencode(filters),
            "scope": _scope(actor),
        },
    )


def _scope(actor: Actor) -> str:
    if actor.role is Role.ADMIN:
        return "every entry (administrator)"
    if actor.role is Role.ANALYST:
        return "entries of every centre, free text hidden (analyst)"
    return f"entries of centre {actor.centre_id}"


@allow("GET")
@with_actor
def record_audit(request: HttpRequest, table: str, record_id: str, *, actor: Actor) -> HttpResponse:
    """The history of one record: every change with before → after, who, when and why."""
    rows = record_history(actor, table, record_id)
    exists = table not in DATA_TABLES or (
        readable(actor, entity(table)).filter(pk=record_id).exists()
    )
    return render(
        request,
        "web/audit_record.html",
        {
            "table": table,
            "record_id": record_id,
            "entries": [entry_view(actor, e) for e in reversed(rows)],
            "exists": exists,
            "scope": _scope(actor),
        },
    )
