"""Void and restore records through the API (:func:`openect.registry.services.void`).

``POST /api/voids`` voids a record entered in error, with the records that depend on it
(a session's applications, a lesion's assessments); ``POST /api/voids/restore`` puts one
back as it was. The reason is required and kept in the audit trail; the scope is the
caller's, as for a change (another centre's record is a 404; an analyst gets 403).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router, Schema

from openect.data.models import ENTITIES, Centre
from openect.registry import services
from openect.web.api.schemas import actor_of, register_body, responses

router = Router(tags=["voided records"])

#: Tables whose records can be voided (every entity but centres).
TABLES = tuple(r.table for r in ENTITIES if r is not Centre)


class VoidRequest(Schema):
    """Which record, and why (kept in the audit trail)."""

    table: str = Field(
        pattern=f"^({'|'.join(TABLES)})$",
        description=f"The record's table: one of {', '.join(TABLES)}",
    )
    record_id: str = Field(min_length=1, max_length=200, description="The record's identifier")
    reason: str = Field(
        min_length=1, max_length=services.REASON_MAX, description="Why (required; audited)"
    )


class VoidedRow(Schema):
    """One record voided or restored."""

    table: str
    record_id: str


class VoidResult(Schema):
    """The records voided or restored: dependants first for a void, the record first for
    a restore."""

    records: list[VoidedRow]


@router.post(
    "/voids",
    response=responses({200: VoidResult}, 404),
    url_name="voids",
    summary="Void a record entered in error (with its dependants)",
    operation_id="voids_create",
)
def void(request: HttpRequest, body: VoidRequest) -> VoidResult:
    """Void the record; it leaves every read, export and analysis, stays in the audit
    trail, and ``/voids/restore`` brings it back."""
    done = services.void(actor_of(request), body.table, body.record_id, body.reason)
    return VoidResult(records=[VoidedRow(table=t, record_id=i) for t, i in done])


@router.post(
    "/voids/restore",
    response=responses({200: VoidResult}, 404),
    url_name="voids-restore",
    summary="Restore a voided record (with those voided with it)",
    operation_id="voids_restore",
)
def unvoid(request: HttpRequest, body: VoidRequest) -> VoidResult:
    """Restore the record as it was; refused (422) while a record it belongs to is voided."""
    done = services.unvoid(actor_of(request), body.table, body.record_id, body.reason)
    return VoidResult(records=[VoidedRow(table=t, record_id=i) for t, i in done])


register_body("voids", VoidRequest)
register_body("voids-restore", VoidRequest)
