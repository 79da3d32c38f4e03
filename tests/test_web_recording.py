"""The recording page at the bedside: a bolus change under recorded applications needs a
reason, the electrode is a catalogue choice, the last application stays selected and can
be repeated in one tap, and errors are listed at the top with links to their fields."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import Application, Session
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from web_clients import add_session_p1_s2, signed_in

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture
def clinician(dataset: Dataset) -> Client:
    """A clinician of C01 with P1's session P1-S2 (bolus ended at 10:00)."""
    import_dataset(ADMIN, dataset)
    add_session_p1_s2()
    return signed_in("dr.one", "clinician", "C01")


def application(time: str, **fields: str) -> dict[str, str]:
    return {
        "window": "standard",
        "lesion_id": "P1-L2",
        "time": time,
        "electrode": "hexagonal",
        "device_code": "",
        "voltage_v": "730",
        "pulses": "96",
        "frequency_hz": "5000",
        "pulse_duration_us": "100",
        "complete": "true",
        **fields,
    }


def applications() -> list[Application]:
    return [
        a for a in services.patient_records(ADMIN, "P1").applications if a.session_id == "P1-S2"
    ]


NEW = reverse("application-new", args=["P1-S2"])
BOLUS = reverse("session-bolus", args=["P1-S2"])
PAGE = reverse("session-record", args=["P1-S2"])


def test_changing_the_bolus_end_under_recorded_applications_needs_a_reason(
    clinician: Client,
) -> None:
    assert clinician.post(NEW, application("10:12")).status_code == 302
    page = clinician.get(PAGE).content.decode()
    # "Bolus ended now" only fills the time in: the reason comes first
    assert 'data-no-submit="id_reason"' in page
    refused = clinician.post(BOLUS, {"window": "standard", "bolus_end_time": "10:05"})
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "1 application(s) are recorded against the bolus end 10:00:00" in text
    assert 'id="error-summary"' in text
    assert 'href="#id_reason"' in text
    session = services.get(ADMIN, Session, "P1-S2")
    assert isinstance(session, Session)
    assert session.bolus_end_time == dt.time(10, 0)  # nothing written
    saved = clinician.post(
        BOLUS,
        {"window": "standard", "bolus_end_time": "10:05", "reason": "clock of the pump was off"},
    )
    assert saved.status_code == 302
    session = services.get(ADMIN, Session, "P1-S2")
    assert isinstance(session, Session)
    assert session.bolus_end_time == dt.time(10, 5)
    entry = AuditEntry.objects.filter(entity="sessions", record_id="P1-S2").latest("id")
    assert entry.reason == (
        "bolus end changed from 10:00:00 to 10:05:00 with 1 application(s) recorded: "
        "clock of the pump was off"
    )
    # the same time again needs no reason
    same = clinician.post(BOLUS, {"window": "standard", "bolus_end_time": "10:05"})
    assert same.status_code == 302


def test_the_electrode_is_a_catalogue_choice_with_an_optional_device_code(
    clinician: Client,
) -> None:
    refused = clinician.post(NEW, application("10:12", electrode="spoon"))
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "Select a valid choice. spoon is not one of the available choices." in text
    assert 'href="#id_electrode"' in text
    bad_code = clinician.post(NEW, application("10:12", device_code="N 10/4"))
    assert "letters, digits, &#x27;.&#x27;, &#x27;_&#x27; and &#x27;-&#x27; only" in (
        bad_code.content.decode()
    )
    assert applications() == []
    assert clinician.post(NEW, application("10:12", device_code="H-10-7")).status_code == 302
    (saved,) = applications()
    assert saved.electrode == "hexagonal:H-10-7"


def test_the_last_application_stays_selected_and_repeats_in_one_post(
    clinician: Client,
) -> None:
    page = clinician.get(PAGE).content.decode()
    assert 'id="repeat-form"' not in page  # nothing to repeat yet
    assert clinician.post(NEW, application("10:12", device_code="H-10-7")).status_code == 302
    page = clinician.get(PAGE).content.decode()
    lesion_select = page.split('id="id_lesion_id"')[1].split("</select>")[0]
    assert re.search(r'<option value="P1-L2"[^>]*selected', lesion_select)
    assert '<option value="hexagonal" selected>' in page
    assert 'name="device_code" value="H-10-7"' in page
    assert "Repeat last: L2, hexagonal:H-10-7" in page
    # the repeat form carries the last application's values, with the time now
    repeat = {
        "window": "standard",
        "lesion_id": "P1-L2",
        "electrode": "hexagonal",
        "device_code": "H-10-7",
        "voltage_v": "730.0",
        "pulses": "96",
        "frequency_hz": "5000.0",
        "pulse_duration_us": "100.0",
        "complete": "true",
        "time": "10:13:05",
    }
    for name, value in repeat.items():
        if name != "time":
            assert f'name="{name}" value="{value}"' in page, name
    assert clinician.post(NEW, repeat).status_code == 302
    first, second = sorted(applications(), key=lambda a: a.application_id)
    assert (second.lesion_id, second.electrode, second.voltage_v, second.pulses) == (
        first.lesion_id,
        first.electrode,
        first.voltage_v,
        first.pulses,
    )
    assert second.time == dt.time(10, 13, 5)


def test_another_centre_cannot_change_the_bolus_or_repeat(clinician: Client) -> None:
    other = signed_in("dr.two", "clinician", "C02")
    assert other.post(BOLUS, {"bolus_end_time": "10:05", "reason": "xxxxxx"}).status_code == 404
    assert other.post(NEW, application("10:12")).status_code == 404
    assert applications() == []


def test_the_pages_head_with_the_patients_short_label(clinician: Client) -> None:
    page = clinician.get(PAGE).content.decode()
    heading = page.split("<h1>")[1].split("</h1>")[0]
    assert re.fullmatch(r"Session 2 · C01-\d{4}", heading), heading
    assert "Session P1-S2 of P1 on 2021-05-01" in page  # the ids stay on the page
    plan = clinician.get(reverse("session-plan", args=["P1"])).content.decode()
    heading = plan.split("<h1>")[1].split("</h1>")[0]
    assert re.fullmatch(r'Plan an ECT session for C01-\d{4} <span class="help">P1</span>', heading)
