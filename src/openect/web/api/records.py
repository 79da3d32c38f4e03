"""Records API: list, get, create, change and delete the rows of every data-model entity.

The routes are generated from :data:`openect.data.models.ENTITIES` (``/api/centres/``,
``/api/patients/``, ``/api/lesions/`` ...); the schemas are the pydantic records or
models derived from them. Every call goes through :mod:`openect.registry.services`
with the caller's role and centre, so reads are scoped and every change is validated
and audited with the API user as actor; reads of patient-level rows (one row, or a page
of a list) are logged in the access log (:mod:`openect.web.access_log`). ``/api/audit/``
shows the audit trail.
"""

# No ``from __future__ import annotations`` here: the views are made in a loop and ninja
# reads their annotations, which refer to the loop's models.

import copy
import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import register_converter
from ninja import Field, Query, Router, Schema, Status
from ninja.params import functions as param
from pydantic import BaseModel, ConfigDict, create_model

from openect.data.models import ENTITIES, Centre, Patient, Record
from openect.errors import AccessDeniedError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.access_log import AccessAction, Read, centre_of, list_centre
from openect.registry.models import AuditEntry, Role
from openect.web.access_log import log_read
from openect.web.api.schemas import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    changes_model,
    creation_model,
    derived_from,
    enum_values,
    filter_model,
    naive_times,
    page_model,
    register_body,
    responses,
)
from openect.web.api.schemas import actor_of as _actor

router = Router()


class AnyIdentifier:
    """URL converter of a record id: any text, so that every unknown id is a JSON 404.

    (Django's ``str`` and ``path`` converters refuse ``/`` or line breaks, and the URL
    would fall through to the HTML 404 page.)
    """

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyIdentifier, "openect_id")

#: Path parameter of one record: its identifier (any text; unknown ids give 404).
RecordId = param.Path(..., min_length=1, max_length=200, description="The record's identifier")
Limit = param.Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size")
Offset = param.Query(0, ge=0, le=2**31, description="Rows to skip")
Reason = param.Query(None, max_length=500, description="Why (kept in the audit trail)")


def _page(items: list[Any], count: int, limit: int, offset: int) -> dict[str, Any]:
    return {"count": count, "limit": limit, "offset": offset, "items": items}


def _add_entity(record: type[Record]) -> None:
    """Add list, get, create, update and delete of ``record`` to the router."""
    table, name = record.table, record.__name__
    label = table.replace("_", " ")
    changes = changes_model(record)
    filters = filter_model(record)
    page = page_model(record, f"{name}Page")
    tags = [table]

    def list_rows(
        request: HttpRequest, limit: int, offset: int, given: dict[str, Any]
    ) -> dict[str, Any]:
        chosen = {column: value for column, value in given.items() if value is not None}
        actor = _actor(request)
        rows = services.list_records(actor, record, offset=offset, limit=limit, **chosen)
        total = services.count(actor, record, **chosen)
        if record is not Centre:  # patient-level rows: the read is logged (503 if it cannot be)
            centre = list_centre(actor, record, chosen)
            query = request.GET.urlencode()
            log_read(request, actor, Read(AccessAction.LIST, table, "", query, centre))
        return _page(rows, total, limit, offset)

    if filters is not None:
        model = filters

        def list_view(
            request: HttpRequest,
            filters: Query[model],  # type: ignore[valid-type]
            limit: int = Limit,
            offset: int = Offset,
        ) -> dict[str, Any]:
            given: BaseModel = filters
            return list_rows(request, limit, offset, given.model_dump())

    else:

        def list_view(  # type: ignore[misc]
            request: HttpRequest, limit: int = Limit, offset: int = Offset
        ) -> dict[str, Any]:
            return list_rows(request, limit, offset, {})

    router.add_api_operation(
        f"/{table}/",
        ["GET"],
        list_view,
        response=responses({200: page}),
        operation_id=f"{table}_list",
        url_name=f"{table}-collection",
        summary=f"List {label}",
        description=f"{name} rows in your scope, in registry order, one page at a time. "
        "Filter by reference columns, e.g. `?patient_id=P1`.",
        tags=tags,
    )

    def get_view(request: HttpRequest, record_id: str = RecordId) -> Record:
        actor = _actor(request)
        item = services.get(actor, record, record_id)
        if record is not Centre:  # patient-level row: the read is logged (503 if it cannot be)
            centre = centre_of(record, record_id)
            log_read(request, actor, Read(AccessAction.VIEW, table, record_id, "", centre))
        return item

    router.add_api_operation(
        f"/{table}/{{openect_id:record_id}}",
        ["GET"],
        get_view,
        response=responses({200: record}, 404),
        operation_id=f"{table}_get",
        url_name=f"{table}-item",
        summary=f"One {name.lower()} row",
        description="404 when there is no such row in your scope.",
        tags=tags,
    )

    new = creation_model(record)

    def create_view(
        request: HttpRequest,
        item: new,  # type: ignore[valid-type]
        reason: str | None = Reason,
    ) -> Status[Record]:
        values = item.model_dump()  # type: ignore[attr-defined]
        naive_times(table, values)
        created = services.create_numbered(_actor(request), record, enum_values(values), reason)
        return Status(201, created)

    router.add_api_operation(
        f"/{table}/",
        ["POST"],
        create_view,
        response=responses({201: record}),
        operation_id=f"{table}_create",
        url_name=f"{table}-collection",
        summary=f"Create a {name.lower()} row",
        description="Validated like `openect data validate`; audited with you as actor. "
        + (
            f"Leave `{record.id_field}` out and the registry numbers it under its "
            f"`{record.id_parent}`; one you choose must begin with that id and `-`."
            if record.id_parent is not None
            else ""
        ),
        tags=tags,
    )
    register_body(f"{table}-collection", new)

    def update_view(
        request: HttpRequest,
        changes: changes,  # type: ignore[valid-type]
        record_id: str = RecordId,
        reason: str | None = Reason,
    ) -> Record:
        values = changes.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
        naive_times(table, values)
        return services.update(_actor(request), record, record_id, enum_values(values), reason)

    router.add_api_operation(
        f"/{table}/{{openect_id:record_id}}",
        ["PATCH"],
        update_view,
        response=responses({200: record}, 404),
        operation_id=f"{table}_update",
        url_name=f"{table}-item",
        summary=f"Change a {name.lower()} row",
        description="Only the columns given change; the whole row is validated again. "
        "Audited with the values before and after.",
        tags=tags,
    )
    register_body(f"{table}-item", changes)

    def delete_view(
        request: HttpRequest, record_id: str = RecordId, reason: str | None = Reason
    ) -> Status[None]:
        services.delete(_actor(request), record, record_id, reason)
        return Status(204, None)

    router.add_api_operation(
        f"/{table}/{{openect_id:record_id}}",
        ["DELETE"],
        delete_view,
        response=responses({204: None}, 404, 409),
        operation_id=f"{table}_delete",
        url_name=f"{table}-item",
        summary=f"Delete a {name.lower()} row",
        description="409 while other rows refer to it (the message says which). Audited.",
        tags=tags,
    )


# ----------------------------------------------------------------------------- registration
def _registration_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        "hospital_number": (
            str,
            Field(
                min_length=1,
                max_length=200,
                pattern=r"\S",
                description="The hospital's patient number: hashed into the patient_id with "
                "the centre key, never stored or logged",
            ),
        )
    }
    fields.update(
        {
            name: (info.annotation, copy.copy(info))
            for name, info in Patient.model_fields.items()
            if name != Patient.id_field
        }
    )
    model = create_model(
        "PatientRegistration",
        __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
        __doc__="A new patient: the hospital number and the other patient columns.",
        **fields,
    )
    return derived_from(model, Patient)


PatientRegistration = _registration_model()


def register_patient(
    request: HttpRequest,
    registration: PatientRegistration,  # type: ignore[valid-type]
    reason: str | None = Reason,
) -> Status[Patient]:
    """Create a patient whose ``patient_id`` is the pseudonym of the hospital number."""
    values = registration.model_dump()  # type: ignore[attr-defined]
    hospital_number = str(values.pop("hospital_number"))
    naive_times("patients", values)
    patient = services.register_patient(
        _actor(request), hospital_number, enum_values(values), reason=reason
    )
    return Status(201, patient)


router.add_api_operation(
    "/patients/register",
    ["POST"],
    register_patient,
    response=responses({201: Patient}, 503),
    operation_id="patients_register",
    url_name="patients-register",
    summary="Register a patient by hospital number",
    description="The patient_id is `PX-` + HMAC-SHA256(centre key, hospital number); the key "
    "comes from OPENECT_PSEUDONYM_KEY or OPENECT_PSEUDONYM_KEY_FILE on the server (503 "
    "without one). The hospital number is never stored, logged or echoed in errors.",
    tags=["patients"],
)
register_body("patients-register", PatientRegistration)

for _record in ENTITIES:
    _add_entity(_record)


# ----------------------------------------------------------------------------- audit
class AuditEntryOut(Schema):
    """One audited change: who, when, what, the values before and after, and why."""

    id: int
    at: dt.datetime
    actor: str = Field(description="User name of whoever made the change")
    role: str
    action: str = Field(description="create, update, delete, import or restore")
    entity: str = Field(description="Table of the record (or 'users')")
    record_id: str
    centre_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None


AuditPage = page_model(AuditEntryOut, "AuditPage")


def audit_entries(actor: Actor) -> QuerySet[AuditEntry]:
    """Audit entries ``actor`` may read.

    Administrators: all. Clinicians and data managers: the entries of their centre's
    records (and of their centre's row), not user changes. Analysts: none (403) - the
    trail holds free text and staff names, outside the pseudonymised research data.
    """
    entries = AuditEntry.objects.all()
    if actor.role is Role.ADMIN:
        return entries
    if actor.role is Role.ANALYST or not actor.centre_id:
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) may not read the audit trail"
        )
    own = Q(centre_id=actor.centre_id) & ~Q(entity="users")
    own_centre = Q(entity=Centre.table, record_id=actor.centre_id)
    return entries.filter(own | own_centre)


@router.get(
    "/audit/",
    response=responses({200: AuditPage}),
    operation_id="audit_list",
    url_name="audit-list",
    summary="The audit trail",
    tags=["audit"],
)
def list_audit(
    request: HttpRequest,
    record_id: str | None = param.Query(
        None, max_length=200, description="Only this record's entries"
    ),
    table: str | None = param.Query(None, max_length=64, description="Only this table's entries"),
    limit: int = Limit,
    offset: int = Offset,
) -> dict[str, Any]:
    """Audit entries in your scope, oldest first (administrators: all; centre roles: their
    centre; analysts: 403)."""
    entries = audit_entries(_actor(request))
    if record_id is not None:
        entries = entries.filter(record_id=record_id)
    if table is not None:
        entries = entries.filter(entity=table)
    return {
        "count": entries.count(),
        "limit": limit,
        "offset": offset,
        "items": list(entries[offset : offset + limit]),
    }
