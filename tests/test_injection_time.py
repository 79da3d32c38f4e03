"""Intratumoural sessions: each application may carry the end of the injection into its
lesion (dataset schema 1.3), and its pulse window runs from it; the data model refuses
it on an intravenous session. Also: a patient number given twice within a centre."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import Application
from openect.data.validation import check_dataset
from openect.protocol.recording import checked_applications, lesion_injections, session_window
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from web_clients import signed_in

ADMIN = Actor("admin", Role.ADMIN)


def it_application(dataset: Dataset, **changes: object) -> Application:
    """P2-S1-A1 (intratumoural, bolus end 14:00:30; window.it 0-10 min) with ``changes``."""
    found = next(a for a in dataset.applications if a.application_id == "P2-S1-A1")
    return found.model_copy(update=changes)


def test_each_lesion_window_runs_from_its_own_injection(dataset: Dataset) -> None:
    patient = next(p for p in dataset.patients if p.patient_id == "P2")
    session = next(s for s in dataset.sessions if s.session_id == "P2-S1")
    window = session_window(session, patient)
    late = dt.time(14, 25)  # 24.5 min after the session's injection end: outside
    apps = [
        it_application(dataset, time=late),
        it_application(
            dataset, application_id="P2-S1-A2", time=late, injection_end_time=dt.time(14, 20)
        ),
    ]
    checks = {
        c.application.application_id: c.check
        for c in checked_applications("P2-S1", apps, window, session.bolus_end_time)
    }
    assert checks["P2-S1-A1"].outside
    assert not checks["P2-S1-A2"].outside  # 5 min after its own injection
    assert lesion_injections("P2-S1", apps) == {"P2-L1": dt.time(14, 20)}


def test_an_injection_time_on_an_intravenous_session_is_refused(dataset: Dataset) -> None:
    iv = next(a for a in dataset.applications if a.application_id == "P1-S1-A1")
    dataset.applications = [
        a.model_copy(update={"injection_end_time": dt.time(10, 0)}) if a is iv else a
        for a in dataset.applications
    ]
    issues = check_dataset(dataset)
    assert [(i.column, i.message) for i in issues] == [
        (
            "injection_end_time",
            "only for intratumoural sessions; session P1-S1 is intravenous (its window runs "
            "from the bolus end): leave it empty",
        )
    ]
    dataset.applications = [it_application(dataset, injection_end_time=dt.time(14, 1))]
    assert not [i for i in check_dataset(dataset) if i.column == "injection_end_time"]


def test_a_patient_number_twice_within_a_centre_is_refused(dataset: Dataset) -> None:
    p1 = dataset.patients[0].model_copy(update={"patient_number": 3})
    twin = p1.model_copy(update={"patient_id": "P9"})
    other_centre = dataset.patients[1].model_copy(update={"patient_number": 3})
    dataset.patients = [p1, other_centre, twin]
    issues = check_dataset(dataset)
    assert [(i.column, i.value, i.message) for i in issues] == [
        (
            "patient_number",
            "3",
            "already the number of patient P1 of centre C01; each patient of a centre has "
            "their own number",
        )
    ]


@pytest.mark.django_db
def test_the_recording_page_takes_each_lesions_injection(dataset: Dataset) -> None:
    import_dataset(ADMIN, dataset)
    client = signed_in("dr.two", "clinician", "C02")
    page = html.unescape(client.get(reverse("session-record", args=["P2-S1"])).content.decode())
    assert "Injection into this lesion ended" in page
    assert "Injected now" in page
    values = {
        "window": "standard",
        "lesion_id": "P2-L1",
        "time": "14:25:00",
        "injection_end_time": "14:20:00",
        "electrode": "plate",
        "device_code": "",
        "voltage_v": "1000",
        "pulses": "8",
        "frequency_hz": "5000",
        "pulse_duration_us": "100",
        "complete": "true",
    }
    saved = client.post(reverse("application-new", args=["P2-S1"]), values, follow=True)
    text = html.unescape(saved.content.decode())
    assert "saved" in text
    assert "Warning" not in text  # 5 min after its injection: inside the 0-10 min window
    stored = services.get(ADMIN, Application, "P2-S1-A2")
    assert stored.injection_end_time == dt.time(14, 20)
    # the next application of the lesion starts with its injection time
    assert 'name="injection_end_time" value="14:20"' in text
    # an intravenous session has no such field
    other = signed_in("dr.one", "clinician", "C01")
    iv = other.get(reverse("session-record", args=["P1-S1"])).content.decode()
    assert "injection_end_time" not in iv
