"""The patient list: search, filters and pages of the patients in the user's scope.

The list shows the living patients unless the vital-status filter asks for the deceased
or for all; each patient by the short label (``C01-0042``) and the pseudonym. The search
finds a patient id or label (``C01-0042``, ``0042`` or ``42``); a hospital number is never
typed here (it would be in the address): the list's "Find by hospital number" form posts
it to :mod:`openect.web.pages.patient_find`.

A page makes a fixed number of queries whatever the number of patients: the scoped
patient rows, aggregate counts of lesions and sessions, the concurrent-immunotherapy
filter from two aggregate queries, and one bulk load of the page's records for the
per-patient response (:func:`openect.response.patient_responses`); and one entry in the
access log (the list read, with its query).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, F, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from openect.data.dataset import Dataset
from openect.data.enums import IMMUNOTHERAPY_CLASSES, PrimaryTumour
from openect.data.models import (
    Application,
    Assessment,
    Centre,
    Lesion,
    Patient,
    Record,
    Session,
    SystemicTherapy,
    patient_label,
)
from openect.data.summary import CONCURRENT_WINDOW_DAYS, concurrent_immunotherapy_patients
from openect.formatting import words
from openect.registry.access import Actor, readable
from openect.registry.access_log import AccessAction, Read
from openect.registry.models import Role
from openect.registry.records import column_names
from openect.response import patient_responses
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor
from openect.web.pages.patient_find import find_context

#: Patients per page of the list.
PAGE_SIZE = 25
#: A search for a label: ``C01-0042``, ``0042`` or ``42`` (centre optional, any zeros).
LABEL_SEARCH = re.compile(r"^(?:(?P<centre>[A-Za-z0-9][A-Za-z0-9._:-]*)-)?0*(?P<number>\d{1,6})$")
#: Vital status shown when the filter is not given: the living.
DEFAULT_STATUS = "alive"


class PatientFilter(forms.Form):
    """Search and filters of the patient list (a GET form)."""

    q = forms.CharField(
        required=False,
        max_length=64,
        label="Patient id or label",
        help_text="Part of the pseudonym, or the label (C01-0042, 42). Never a hospital "
        "number: use Find by hospital number.",
    )
    centre = forms.ChoiceField(required=False, label="Centre")
    tumour = forms.ChoiceField(
        required=False,
        label="Primary tumour",
        choices=[("", "any")] + [(t.value, words(t)) for t in PrimaryTumour],
    )
    status = forms.ChoiceField(
        required=False,
        label="Vital status",
        choices=[("alive", "alive"), ("deceased", "deceased"), ("all", "all")],
        help_text="Deceased patients are shown only when asked for",
    )
    immunotherapy = forms.ChoiceField(
        required=False,
        label="Concurrent immunotherapy",
        choices=[("", "any"), ("yes", "yes"), ("no", "no")],
        help_text=(
            "An immune checkpoint inhibitor overlapping the first ECT session "
            f"± {CONCURRENT_WINDOW_DAYS} days"
        ),
    )
    sort = forms.ChoiceField(
        required=False,
        label="Order",
        choices=[
            ("label", "label (centre, number)"),
            ("id", "patient id"),
            ("recent", "last contact, newest first"),
        ],
    )

    def __init__(self, *args: Any, centres: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["centre"].choices = [("", "all")] + [(c, c) for c in centres]

    def value(self, name: str) -> str:
        """The cleaned value of ``name``; empty when absent or invalid."""
        data = getattr(self, "cleaned_data", {})
        return str(data.get(name) or "")


def search_patients(rows: QuerySet[Any], text: str) -> QuerySet[Any]:
    """``rows`` whose id contains ``text`` or whose label is ``text`` (``C01-0042``,
    ``0042``, ``42``; any case)."""
    wanted = Q(patient_id__icontains=text)
    label = LABEL_SEARCH.match(text.strip())
    if label is not None:
        number = Q(patient_number=int(label["number"]))
        if label["centre"]:
            number &= Q(centre__centre_id__iexact=label["centre"])
        wanted |= number
    return rows.filter(wanted)


def concurrent_immunotherapy_ids(actor: Actor) -> set[str]:
    """Patients (in scope) with an immune checkpoint inhibitor overlapping their first session.

    The rule of :func:`openect.data.summary.concurrent_immunotherapy_patients`, fed by two
    aggregate queries (first session per patient, checkpoint-inhibitor therapies).
    """
    first = dict(
        readable(actor, Session)
        .order_by()
        .values("patient_id")
        .annotate(first=Min("session_date"))
        .values_list("patient_id", "first")
    )
    therapies = (
        readable(actor, SystemicTherapy)
        .filter(agent_class__in=[c.value for c in IMMUNOTHERAPY_CLASSES])
        .values_list("patient_id", "agent_class", "start_date", "end_date")
    )
    return concurrent_immunotherapy_patients(first, therapies)


def _counts(actor: Actor, record: type[Record], path: str, ids: list[str]) -> dict[str, int]:
    """Rows of ``record`` per patient for the patients ``ids`` (one aggregate query)."""
    rows = (
        readable(actor, record)
        .filter(**{f"{path}__in": ids})
        .order_by()
        .values(path)
        .annotate(n=Count("pk"))
        .values_list(path, "n")
    )
    return {str(key): int(n) for key, n in rows}


def _constructed(record: type[Record], rows: Any) -> list[Any]:
    """Records of registry rows without re-validation (they were validated when written)."""
    names = column_names(record)
    return [record.model_construct(**row) for row in rows.values(*names)]


def page_dataset(actor: Actor, ids: list[str]) -> Dataset:
    """The records the response needs for the patients ``ids`` (bulk loads, no loop).

    Built without re-validating every row (the registry validated them on the way in),
    so that a page of the patient list stays fast.
    """
    dataset = Dataset()
    dataset.patients = _constructed(Patient, readable(actor, Patient).filter(pk__in=ids))
    dataset.lesions = _constructed(Lesion, readable(actor, Lesion).filter(patient_id__in=ids))
    dataset.sessions = _constructed(Session, readable(actor, Session).filter(patient_id__in=ids))
    dataset.applications = _constructed(
        Application, readable(actor, Application).filter(session__patient_id__in=ids)
    )
    dataset.assessments = _constructed(
        Assessment, readable(actor, Assessment).filter(lesion__patient_id__in=ids)
    )
    return dataset


def best_responses(actor: Actor, ids: list[str]) -> dict[str, str]:
    """Per-patient response (best lesion responses, ESOPE/InspECT convention) of ``ids``."""
    if not ids:
        return {}
    return patient_responses(page_dataset(actor, ids), "recist", basis="best")


@allow("GET")
@with_actor
def patient_list(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """The patients in the user's scope: search, filters, pages of :data:`PAGE_SIZE`."""
    return render_list(request, actor)


def render_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The patient list page of ``actor`` (also the home page of the roles without a
    worklist)."""
    centres = (
        list(readable(actor, Centre).order_by("centre_id").values_list("centre_id", flat=True))
        if actor.pooled
        else []
    )
    search = PatientFilter(request.GET or None, centres=centres)
    if search.is_bound:
        search.is_valid()
    rows = readable(actor, Patient)
    if search.value("q"):
        rows = search_patients(rows, search.value("q"))
    if actor.pooled and search.value("centre"):
        rows = rows.filter(centre_id=search.value("centre"))
    if search.value("tumour"):
        rows = rows.filter(primary_tumour=search.value("tumour"))
    status = search.value("status") or DEFAULT_STATUS
    if status == "alive":
        rows = rows.filter(death_date__isnull=True)
    elif status == "deceased":
        rows = rows.filter(death_date__isnull=False)
    if search.value("immunotherapy") in ("yes", "no"):
        treated = concurrent_immunotherapy_ids(actor)
        rows = (
            rows.filter(pk__in=treated)
            if search.value("immunotherapy") == "yes"
            else rows.exclude(pk__in=treated)
        )
    if search.value("sort") == "recent":
        rows = rows.order_by(F("last_contact_date").desc(nulls_last=True), "patient_id")
    elif search.value("sort") == "id":
        rows = rows.order_by("patient_id")
    else:
        rows = rows.order_by("centre_id", F("patient_number").asc(nulls_last=True), "patient_id")
    values = rows.values(
        "patient_id",
        "centre_id",
        "patient_number",
        "sex",
        "birth_year",
        "primary_tumour",
        "stage",
        "last_contact_date",
        "death_date",
    )
    page = Paginator(values, PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [str(row["patient_id"]) for row in page.object_list]
    lesions = _counts(actor, Lesion, "patient_id", ids)
    sessions = _counts(actor, Session, "patient_id", ids)
    responses = best_responses(actor, ids)
    patients = [
        {
            **row,
            "label": patient_label(str(row["centre_id"]), row["patient_number"]),
            "lesions": lesions.get(str(row["patient_id"]), 0),
            "sessions": sessions.get(str(row["patient_id"]), 0),
            "response": responses.get(str(row["patient_id"])),
        }
        for row in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    shown = request.GET.urlencode()
    log_read(request, actor, Read(AccessAction.LIST, "patients", "", shown, actor.centre_id))
    context = {
        "search": search,
        "page": page,
        "patients": patients,
        "query": query.urlencode(),
        "filtered": status != DEFAULT_STATUS
        or any(search.value(n) for n in ("q", "centre", "tumour", "immunotherapy")),
        "status": status,
        "may_create": actor.role is not Role.ANALYST,
        **find_context(actor),
    }
    return render(request, "web/patients/list.html", context)
