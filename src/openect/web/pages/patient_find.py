"""Finding a patient by hospital number.

The number is posted (never in an address, so never in a browser's history, a proxy's
log or the access log's query), turned into the pseudonym of each centre in the user's
scope with the centre key (:func:`openect.registry.pseudonym.pseudonym`) and forgotten:
it is never stored, logged or written back into a page. The pseudonyms are looked up
among the patients the user may read (:func:`openect.registry.access.readable`), so a
clinician or data manager finds only their centre's patients and learns nothing of
another centre's. One patient found opens their page; none, or several (an
administrator, whose scope is every centre, may find the same number at two centres),
is said on this page. Analysts, who work on pseudonyms only, may not search. Each
search is a list read in the access log (the number of patients found, never the
number searched).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters

from openect.data.models import Centre, Patient, patient_label
from openect.errors import AccessDeniedError
from openect.registry import pseudonym as pseudonyms
from openect.registry.access import Actor, readable
from openect.registry.access_log import AccessAction, Read
from openect.registry.models import Role
from openect.web.access_log import log_read
from openect.web.pages.common import allow, with_actor

#: What the access log says of a search (the number searched is never logged).
QUERY = "find by hospital number (number not logged): {found} found"


class NeverShown(forms.TextInput):
    """A text input that never writes its value back into the page."""

    def format_value(self, value: Any) -> None:
        return None


class FindForm(forms.Form):
    """The hospital number to look for (kept in the request only)."""

    hospital_number = forms.CharField(
        max_length=64,
        label="Hospital number",
        help_text="Turned into the pseudonym with the centre key; never stored, shown or logged.",
        widget=NeverShown(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


def pseudonym_key() -> bytes | None:
    """The centre's pseudonymisation key, or None when none is configured."""
    try:
        return pseudonyms.load_key()
    except pseudonyms.PseudonymKeyError:
        return None


def may_find(actor: Actor) -> bool:
    """True when ``actor`` may look patients up by hospital number (not analysts)."""
    return actor.role is not Role.ANALYST


def find_context(actor: Actor) -> dict[str, Any]:
    """What a page with the find form needs: the form, when the actor may search and a
    key is configured."""
    shown = may_find(actor) and pseudonym_key() is not None
    return {"find_form": FindForm() if shown else None}


def _centres(actor: Actor) -> list[str]:
    """The centres whose patients the actor may find: their own, or every centre."""
    if actor.centre_id is not None:
        return [actor.centre_id]
    return [str(c) for c in readable(actor, Centre).values_list("centre_id", flat=True)]


def find(actor: Actor, hospital_number: str, key: bytes) -> list[dict[str, Any]]:
    """The patients in ``actor``'s scope registered under ``hospital_number`` (id, centre,
    label, death date); ValueError for a blank number."""
    wanted = [pseudonyms.pseudonym(hospital_number, centre, key) for centre in _centres(actor)]
    rows = (
        readable(actor, Patient)
        .filter(pk__in=wanted)
        .order_by("centre_id", "patient_id")
        .values("patient_id", "centre_id", "patient_number", "death_date")
    )
    return [
        {**row, "label": patient_label(str(row["centre_id"]), row["patient_number"])}
        for row in rows
    ]


@sensitive_post_parameters("hospital_number")
@allow("GET", "POST")
@with_actor
def patient_find(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """GET: the form; POST: the patient of the hospital number (their page when one)."""
    if not may_find(actor):
        raise AccessDeniedError(
            f"user {actor.username!r} ({actor.role.value}) works on pseudonyms only and "
            "may not look patients up by hospital number"
        )
    key = pseudonym_key()
    form = FindForm(request.POST if request.method == "POST" else None)
    context: dict[str, Any] = {"form": form, "key": key is not None, "searched": False}
    if request.method != "POST":
        return render(request, "web/patients/find.html", context)
    if key is None:
        return render(request, "web/patients/find.html", context, status=503)
    found: list[dict[str, Any]] | None = None
    if form.is_valid():
        try:
            found = find(actor, form.cleaned_data["hospital_number"], key)
        except ValueError as error:  # a blank number
            form.add_error("hospital_number", str(error))
    if found is None:
        return render(request, "web/patients/find.html", context, status=400)
    log_read(
        request,
        actor,
        Read(AccessAction.LIST, "patients", "", QUERY.format(found=len(found)), actor.centre_id),
    )
    if len(found) == 1:
        patient = found[0]
        shown = patient["label"] or patient["patient_id"]
        messages.success(request, f"Patient {shown} found by hospital number.")
        return redirect("patient-detail", patient_id=patient["patient_id"])
    context |= {
        "searched": True,
        "found": found,
        "centre": actor.centre_id,
        "form": FindForm(),
        "may_create": True,
    }
    return render(request, "web/patients/find.html", context)
