"""Web pages of the centre: dashboard, audit trail and record history, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from openect.data.dataset import Dataset
from openect.data.models import Assessment, Lesion, PatientReported
from openect.registry import accounts, services
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset
from openect.synth import generate_cohort
from second_factor import verify_session

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PASSWORD = "correct-horse-battery"


def signed_in(username: str, role: str, centre: str | None = None) -> Client:
    """A test client signed in as a new registry user (an administrator verified with a
    second factor)."""
    accounts.set_user(ADMIN, username, role, centre, PASSWORD)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    if role == "admin":
        verify_session(client, get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset in the registry (P1 of C01 with two treated lesions, P2 of C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


# ----------------------------------------------------------------------------- dashboard
def test_dashboard_of_a_clinician_shows_their_centre_only(registry: Dataset) -> None:
    client = signed_in("dr.one", "clinician", "C01")
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "centre C01" in text
    assert '<span class="n">1</span> patients' in text  # P2 is of C02
    assert '<span class="n">2</span> treated lesions' in text
    # P1-L1 CR, P1-L2 PR at the landmark: CR 1 / 2 per lesion; P1 is PR per patient
    assert "CR per measurable lesion</th>" in text  # both lesions >= 10 mm
    assert "1 / 2" in text
    assert "50.0\u00a0%" in text
    assert "cluster-robust CI needs lesions of two or more patients" in text
    assert "0 / 1" in text  # CR per patient
    assert "not enough data: 2 treated lesion(s) with follow-up" in text
    assert "Kunte (InspECT) 2017" in text  # the published melanoma cohorts
    assert "This register (melanoma)" in text
    assert "Per centre" not in text


def test_dashboard_of_an_analyst_is_pooled_with_a_row_per_centre(registry: Dataset) -> None:
    client = signed_in("analyst", "analyst")
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "all centres" in text
    assert '<span class="n">2</span> patients' in text
    assert "Per centre" in text
    assert "Test centre one" in text
    assert "Test centre two" in text


def test_dashboard_of_an_empty_registry_says_there_is_not_enough_data() -> None:
    client = signed_in("root", "admin")
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    text = response.content.decode()
    assert '<span class="n">0</span> patients' in text
    assert "not enough data" in text
    assert "data:image/png" not in text


def test_dashboard_draws_local_control_when_there_are_enough_lesions() -> None:
    import_dataset(ADMIN, generate_cohort(12, centres=2, seed=5))
    client = signed_in("dr.one", "clinician", "C01")
    response = client.get(reverse("dashboard"))
    text = response.content.decode()
    assert response.status_code == 200
    assert 'src="data:image/png;base64,' in text
    assert "Kaplan-Meier curve of local tumour control" in text
    assert "SYNTHETIC" in text
    assert "could not be computed" not in text


def test_dashboard_requires_sign_in() -> None:
    response = Client().get(reverse("dashboard"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# ----------------------------------------------------------------------------- audit
def test_audit_list_is_scoped_to_the_centre(registry: Dataset) -> None:
    services.update(ADMIN, Lesion, "P1-L1", {"thickness_mm": 5.0}, reason="remeasured")
    c02 = signed_in("manager.two", "data_manager", "C02").get(reverse("audit")).content.decode()
    assert "P2-L1" in c02
    assert "P2-S1" in c02
    assert "P1-L1" not in c02
    assert "P1-S1" not in c02
    assert "remeasured" not in c02
    assert ">users<" not in c02  # user management is for administrators
    c01 = signed_in("dr.one", "clinician", "C01").get(reverse("audit")).content.decode()
    assert "P1-L1" in c01
    assert "remeasured" in c01
    assert "P2-L1" not in c01


def test_audit_list_filters_by_table_and_record(registry: Dataset) -> None:
    client = signed_in("dr.one", "clinician", "C01")
    text = client.get(reverse("audit"), {"table": "lesions"}).content.decode()
    assert "P1-L1" in text
    assert "P1-L2" in text
    assert "P1-S1-A1" not in text
    text = client.get(reverse("audit"), {"record_id": "P1-L2"}).content.decode()
    assert "P1-L2" in text
    assert ">P1-L1<" not in text
    text = client.get(reverse("audit"), {"record_id": "nothing"}).content.decode()
    assert "No audit entry matches these filters" in text


def test_audit_list_pages_keep_the_filters(registry: Dataset) -> None:
    """51 changes of one lesion: two pages of 50, the pager keeps the record filter."""
    actor = Actor("dr.one", Role.CLINICIAN, "C01")
    for i in range(51):
        services.update(actor, Lesion, "P1-L1", {"thickness_mm": 1.0 + i / 10})
    client = signed_in("dr.one", "clinician", "C01")
    first = client.get(reverse("audit"), {"record_id": "P1-L1"}).content.decode()
    assert "Page 1 of 2" in first
    assert 'href="?record_id=P1-L1&amp;page=2">Older →</a>' in first
    second = client.get(reverse("audit"), {"record_id": "P1-L1", "page": 2}).content.decode()
    assert 'href="?record_id=P1-L1&amp;page=1">← Newer</a>' in second


def test_record_history_shows_before_and_after_who_when_why(registry: Dataset) -> None:
    clinician = signed_in("dr.one", "clinician", "C01")
    clinician_actor = Actor("dr.one", Role.CLINICIAN, "C01")
    services.update(clinician_actor, Lesion, "P1-L1", {"thickness_mm": 5.5}, reason="ultrasound")
    response = clinician.get(reverse("record-audit", args=["lesions", "P1-L1"]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "History of lesions P1-L1" in text
    assert "2 changes" in text  # import (create), then the update
    assert '<td class="before">4.0</td>' in text
    assert "5.5</td>" in text
    assert "dr.one (clinician)" in text
    assert "ultrasound" in text
    assert "admin (admin)" in text


def test_record_history_of_another_centre_is_404(registry: Dataset) -> None:
    client = signed_in("dr.two", "clinician", "C02")
    assert client.get(reverse("record-audit", args=["lesions", "P1-L1"])).status_code == 404
    assert client.get(reverse("record-audit", args=["patients", "P1"])).status_code == 404
    assert client.get(reverse("record-audit", args=["users", "dr.two"])).status_code == 404
    assert client.get(reverse("record-audit", args=["lesions", "P2-L1"])).status_code == 200
    assert client.get(reverse("record-audit", args=["lesions", "nope"])).status_code == 404


def test_history_of_a_deleted_record_stays_within_its_centre(registry: Dataset) -> None:
    services.delete(ADMIN, PatientReported, "PR1", reason="entered twice")
    url = reverse("record-audit", args=["patient_reported", "PR1"])
    text = signed_in("dr.one", "clinician", "C01").get(url).content.decode()
    assert "entered twice" in text
    assert "no longer exists" in text
    assert signed_in("dr.two", "clinician", "C02").get(url).status_code == 404


def test_analysts_see_every_centre_without_free_text(registry: Dataset) -> None:
    services.update(
        ADMIN,
        Assessment,
        "P1-L2-V1",
        {"override_reason": "necrotic centre, biopsy pending"},
        reason="Dr Smith phoned",
    )
    client = signed_in("analyst", "analyst")
    listing = client.get(reverse("audit")).content.decode()
    assert "P1-L1" in listing
    assert "P2-L1" in listing
    assert "Dr Smith" not in listing
    assert "[hidden]" in listing
    history = client.get(reverse("record-audit", args=["assessments", "P1-L2-V1"]))
    text = history.content.decode()
    assert history.status_code == 200
    assert "biopsy pending" not in text
    assert "necrotic centre confirmed" not in text
    assert "[hidden]" in text


# ----------------------------------------------------------------------------- export
def test_export_page_explains_and_counts(registry: Dataset) -> None:
    response = signed_in("dr.one", "clinician", "C01").get(reverse("export"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "your centre (C01)" in text
    assert "patients.csv" in text
    assert f"openect-export-C01-{dt.date.today().isoformat()}" in text


def test_export_zip_holds_the_csv_files_of_the_centre_only(registry: Dataset) -> None:
    response = signed_in("dr.one", "clinician", "C01").post(reverse("export"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="openect-export-C01-{dt.date.today().isoformat()}.zip"' in disposition
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {"dataset.json", "patients.csv", "lesions.csv", "sessions.csv"} <= names
    patients = list(csv.DictReader(io.StringIO(archive.read("patients.csv").decode("utf-8"))))
    assert [p["patient_id"] for p in patients] == ["P1"]
    lesions = archive.read("lesions.csv").decode("utf-8")
    assert "P1-L1" in lesions
    assert "P2-L1" not in lesions
    assessments = archive.read("assessments.csv").decode("utf-8")
    assert "necrotic centre confirmed by ultrasound" in assessments  # free text kept


def test_export_of_an_analyst_is_pooled_without_free_text(registry: Dataset) -> None:
    response = signed_in("analyst", "analyst").post(reverse("export"))
    assert "openect-export-all-centres-" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    patients = archive.read("patients.csv").decode("utf-8")
    assert "P1," in patients
    assert "P2," in patients
    assert "necrotic centre" not in archive.read("assessments.csv").decode("utf-8")
