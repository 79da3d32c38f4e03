"""Plausible dates everywhere: nothing dated after today, no year of birth in the future,
no last contact before birth; the last contact date follows sessions, assessments and
quality-of-life reports.

Refused by the data model, so refused alike by ``openect data validate``, imports, the
REST API and the web forms, each with the message on the field that fixes it. "Today"
is the registry's (setting ``time_zone``); every future date here is computed from the
real today.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import subprocess
import sys
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from pydantic import ValidationError

from dataset_files import set_cell
from openect.cli import main
from openect.data.csvio import load_dataset, write_dataset
from openect.data.dataset import Dataset
from openect.data.field_errors import field_errors
from openect.data.models import (
    AS_STORED,
    ENTITIES,
    Assessment,
    Patient,
    PatientReported,
    Record,
    Session,
    registry_today,
)
from openect.data.schema import columns
from openect.errors import RecordInvalidError
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.records import from_row_values
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

ADMIN = Actor("admin", Role.ADMIN)
CLINICIAN = Actor("doc.c01", Role.CLINICIAN, "C01")


def today() -> dt.date:
    """Today in the registry's time zone (UTC unless a test sets another)."""
    return registry_today().date


def tomorrow() -> dt.date:
    return today() + dt.timedelta(days=1)


#: Every column that may not lie in the future, as (record, column).
DATED = [
    (model, column.name) for model in ENTITIES for column in columns(model) if column.not_in_future
]


def record_of(dataset: Dataset, model: type[Record]) -> Record:
    """The last record of ``model`` in the small dataset (P2, the dead patient, for
    patients: it has a death date)."""
    return dataset.records(model)[-1]


def errors_of(model: type[Record], values: dict[str, Any]) -> dict[str | None, str]:
    try:
        model.model_validate(values)
    except ValidationError as error:
        return {e.field: e.message for e in field_errors(error, model, values)}
    return {}


# ------------------------------------------------------------------ the data model
def test_every_clinical_date_and_the_year_of_birth_are_checked() -> None:
    assert {(m.table, c) for m, c in DATED} == {
        ("patients", "birth_year"),
        ("patients", "last_contact_date"),
        ("patients", "death_date"),
        ("patients", "dlco_date"),
        ("patients", "chest_imaging_date"),
        ("lesions", "baseline_date"),
        ("sessions", "session_date"),
        ("assessments", "assessment_date"),
        ("adverse_events", "onset_date"),
        ("patient_reported", "report_date"),
        ("systemic_therapies", "start_date"),
        ("systemic_therapies", "end_date"),
    }
    for model, name in DATED:
        column = next(c for c in columns(model) if c.name == name)
        assert "not after" in column.allowed, (model.table, name)


@pytest.mark.parametrize(
    ("model", "name"), [(m, c) for m, c in DATED if c != "birth_year"], ids=lambda x: str(x)
)
def test_a_date_after_today_is_refused_today_is_allowed(
    dataset: Dataset, model: type[Record], name: str
) -> None:
    values = record_of(dataset, model).model_dump()
    later = tomorrow()
    errors = errors_of(model, {**values, name: later})
    words = name.replace("_", " ")
    assert errors[name] == (
        f"{words} {later.isoformat()} is in the future; allowed: up to "
        f"{today().isoformat()} (today, UTC)"
    )
    assert name not in errors_of(model, {**values, name: today()})


def test_a_year_of_birth_in_the_future_is_refused(dataset: Dataset) -> None:
    values = dataset.patients[0].model_dump()
    year = today().year
    errors = errors_of(Patient, {**values, "birth_year": year + 1, "last_contact_date": None})
    assert errors == {
        "birth_year": f"birth year {year + 1} is in the future; allowed: up to {year} "
        "(this year, UTC)"
    }
    assert errors_of(Patient, {**values, "birth_year": year, "last_contact_date": None}) == {}


def test_a_last_contact_before_birth_is_refused(dataset: Dataset) -> None:
    values = dataset.patients[0].model_dump()  # born 1950
    errors = errors_of(Patient, {**values, "last_contact_date": dt.date(1949, 12, 31)})
    assert errors == {
        "last_contact_date": "last contact date 1949-12-31 is before the year of birth 1950; "
        "allowed: from 1950-01-01"
    }


def test_today_is_the_registry_time_zone_s(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kiritimati (UTC+14) is always at least a day ahead of Pago Pago (UTC-11)."""
    from openect.settings import get_settings

    ahead = dt.datetime.now(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date()
    values = {**dataset.sessions[0].model_dump(), "session_date": ahead}
    monkeypatch.setenv("OPENECT_TIME_ZONE", "Pacific/Kiritimati")
    get_settings.cache_clear()
    assert errors_of(Session, values) == {}
    monkeypatch.setenv("OPENECT_TIME_ZONE", "Pacific/Pago_Pago")
    get_settings.cache_clear()
    behind = dt.datetime.now(zoneinfo.ZoneInfo("Pacific/Pago_Pago")).date()
    assert errors_of(Session, values)["session_date"].endswith(
        f"allowed: up to {behind.isoformat()} (today, Pacific/Pago_Pago)"
    )


def test_a_stored_record_stays_readable(dataset: Dataset) -> None:
    """A record checked when written is not judged again against a later today (the
    registry's time zone changed, a clock set back)."""
    values = {**dataset.sessions[0].model_dump(), "session_date": tomorrow()}
    assert Session.model_validate(values, context=AS_STORED).session_date == tomorrow()
    row = {**values, "anaesthesia": "general", "drug": "bleomycin", "route": "intravenous"}
    assert from_row_values(Session, row).session_date == tomorrow()  # type: ignore[attr-defined]


# ------------------------------------------------------------------ openect data validate
def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, _ = capsys.readouterr()
    return code, out


@pytest.mark.parametrize(
    ("file", "row_id", "column", "value", "message"),
    [
        ("assessments.csv", "P1-L1-V2", "assessment_date", "future",
         "assessment date {v} is in the future; allowed: up to {t} (today, UTC)"),
        ("patients.csv", "P1", "birth_year", "next year",
         "birth year {v} is in the future; allowed: up to {y} (this year, UTC)"),
        ("patients.csv", "P1", "last_contact_date", "1949-06-30",
         "last contact date {v} is before the year of birth 1950; allowed: from 1950-01-01"),
    ],
)  # fmt: skip
def test_data_validate_names_file_row_and_column(
    capsys: pytest.CaptureFixture[str],
    dataset_dir: Path,
    file: str,
    row_id: str,
    column: str,
    value: str,
    message: str,
) -> None:
    if value == "future":
        value = tomorrow().isoformat()
    elif value == "next year":
        value = str(today().year + 1)
    line = set_cell(dataset_dir, file, row_id, column, value)
    code, out = run(capsys, "data", "validate", str(dataset_dir), "--json")
    assert code == 2
    errors = json.loads(out)["errors"]
    expected = message.format(v=value, t=today().isoformat(), y=today().year)
    assert {"file": file, "row": line, "column": column, "value": value,
            "message": expected} in errors  # fmt: skip


def test_every_future_date_of_a_dataset_is_reported(dataset: Dataset, tmp_path: Path) -> None:
    folder = write_dataset(dataset, tmp_path / "ds")
    later = tomorrow().isoformat()
    set_cell(folder, "sessions.csv", "P1-S1", "session_date", later)
    set_cell(folder, "patient_reported.csv", "PR1", "report_date", later)
    set_cell(folder, "adverse_events.csv", "AE1", "onset_date", later)
    set_cell(folder, "systemic_therapies.csv", "T1", "end_date", later)
    _, report = load_dataset(folder)
    found = {(i.file, i.column) for i in report.issues if "is in the future" in i.message}
    assert found == {
        ("sessions.csv", "session_date"),
        ("patient_reported.csv", "report_date"),
        ("adverse_events.csv", "onset_date"),
        ("systemic_therapies.csv", "end_date"),
    }


# ------------------------------------------------------------------ registry services
@pytest.fixture
def registry(dataset: Dataset, db: None) -> Dataset:
    """The small dataset: P1 (C01, last contact 2021-06-01), P2 (C02, died 2020-09-01)."""
    import_dataset(ADMIN, dataset)
    return dataset


def last_contact(patient_id: str = "P1") -> dt.date | None:
    return services.get(ADMIN, Patient, patient_id).last_contact_date


def moves(patient_id: str = "P1") -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(entity="patients", record_id=patient_id, action="update"))


def test_the_services_refuse_a_future_date_and_write_nothing(registry: Dataset) -> None:
    before = (AuditEntry.objects.count(), services.count(ADMIN, Assessment))
    values = {**registry.assessments[0].model_dump(), "assessment_id": "P1-L1-V9"}
    with pytest.raises(RecordInvalidError) as refused:
        services.create(CLINICIAN, Assessment.model_construct(**{**values,
                        "assessment_date": tomorrow()}))  # fmt: skip
    [(column, value, message)] = refused.value.issues
    assert (column, value) == ("assessment_date", tomorrow().isoformat())
    assert "is in the future" in message
    with pytest.raises(RecordInvalidError):
        services.update(CLINICIAN, Patient, "P1", {"birth_year": today().year + 1})
    assert (AuditEntry.objects.count(), services.count(ADMIN, Assessment)) == before
    assert last_contact() == dt.date(2021, 6, 1)


@pytest.mark.parametrize(
    ("model", "values", "noun"),
    [
        (Session, {"session_id": "P1-S9", "session_number": 9}, "session"),
        (Assessment, {"assessment_id": "P1-L1-V9"}, "assessment"),
        (PatientReported, {"report_id": "P1-PRO9"}, "quality-of-life report"),
    ],
)
def test_last_contact_follows_a_new_contact(
    registry: Dataset, model: type[Record], values: dict[str, Any], noun: str
) -> None:
    date = dt.date(2021, 9, 1)
    column = {Session: "session_date", Assessment: "assessment_date"}.get(model, "report_date")
    item = registry.records(model)[0].model_copy(update={**values, column: date})  # of P1
    before = AuditEntry.objects.count()
    services.create(CLINICIAN, item, reason="follow-up visit")
    assert last_contact() == date
    [moved] = moves()
    assert moved.reason == f"last contact follows the {noun} of 2021-09-01"
    assert (moved.actor, moved.centre_id) == ("doc.c01", "C01")
    assert (moved.before["last_contact_date"], moved.after["last_contact_date"]) == (
        "2021-06-01",
        "2021-09-01",
    )
    assert AuditEntry.objects.count() == before + 2  # the move, then the record
    assert AuditEntry.objects.order_by("-pk").first().entity == model.table  # type: ignore[union-attr]


def test_last_contact_follows_a_changed_date_and_never_moves_back(registry: Dataset) -> None:
    services.update(CLINICIAN, PatientReported, "PR1", {"report_date": dt.date(2021, 7, 15)})
    assert last_contact() == dt.date(2021, 7, 15)
    assert moves()[0].reason == "last contact follows the quality-of-life report of 2021-07-15"
    services.update(CLINICIAN, PatientReported, "PR1", {"report_date": dt.date(2020, 3, 2)})
    services.update(CLINICIAN, Assessment, "P1-L1-V2", {"longest_diameter_mm": 1.0})
    assert last_contact() == dt.date(2021, 7, 15)
    assert len(moves()) == 1


def test_an_unknown_last_contact_is_set_by_a_contact(registry: Dataset) -> None:
    services.update(ADMIN, Patient, "P1", {"last_contact_date": None})
    services.update(CLINICIAN, Assessment, "P1-L1-V2", {"assessment_date": dt.date(2020, 5, 2)})
    assert last_contact() == dt.date(2020, 5, 2)


def test_a_refused_contact_moves_nothing(registry: Dataset) -> None:
    """A session after the last contact that breaks another rule (a taken session
    number): neither the session nor the move is written."""
    before = AuditEntry.objects.count()
    clash = registry.sessions[0].model_copy(
        update={"session_id": "P1-S9", "session_date": dt.date(2021, 9, 1)}
    )  # session number 1 again
    with pytest.raises(RecordInvalidError) as refused:
        services.create(CLINICIAN, clash)
    assert "duplicate session_number" in str(refused.value)
    assert last_contact() == dt.date(2021, 6, 1)
    assert AuditEntry.objects.count() == before


def test_a_contact_after_death_is_refused_not_followed(registry: Dataset) -> None:
    after = registry.assessments[0].model_copy(
        update={"assessment_id": "P2-L1-V1", "lesion_id": "P2-L1",
                "assessment_date": dt.date(2020, 10, 1)}
    )  # fmt: skip
    with pytest.raises(RecordInvalidError) as refused:
        services.create(ADMIN, after)
    assert "after the death_date of patient P2" in str(refused.value)
    assert last_contact("P2") == dt.date(2020, 9, 1)


# ------------------------------------------------------------------ REST API
def api_client(username: str, role: str, centre: str | None) -> Client:
    set_user(ADMIN, username, role, centre, "a-long-test-password")
    token = ApiToken.issue(get_user_model().objects.get(username=username), "test")
    return Client(headers={"Authorization": f"Bearer {token}"})


def test_the_api_refuses_a_future_date_naming_the_field(registry: Dataset) -> None:
    api = api_client("api.c01", "clinician", "C01")
    before = (AuditEntry.objects.count(), services.count(ADMIN, Assessment))
    body = {"lesion_id": "P1-L1", "assessment_date": tomorrow().isoformat(),
            "longest_diameter_mm": 3}  # fmt: skip
    response = api.post("/api/assessments/", json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["loc"] == ["assessment_date"]
    assert item["value"] == tomorrow().isoformat()
    assert item["msg"].startswith(f"assessment date {tomorrow().isoformat()} is in the future")
    change = {"birth_year": today().year + 1}
    response = api.patch("/api/patients/P1", json.dumps(change), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["birth_year"]
    assert (AuditEntry.objects.count(), services.count(ADMIN, Assessment)) == before


def test_the_api_moves_the_last_contact_with_a_later_visit(registry: Dataset) -> None:
    api = api_client("api.c01", "clinician", "C01")
    body = {"lesion_id": "P1-L1", "assessment_date": "2021-08-02", "longest_diameter_mm": 0}
    response = api.post("/api/assessments/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert last_contact() == dt.date(2021, 8, 2)
    assert moves()[0].actor == "api.c01"


# ------------------------------------------------------------------ web forms
@pytest.fixture
def clinician(client: Client, registry: Dataset) -> Client:
    set_user(ADMIN, "doc.c01", "clinician", "C01")
    client.force_login(get_user_model().objects.get(username="doc.c01"))
    return client


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def invalid_field(body: str, name: str) -> bool:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', body)
    return found is not None and 'aria-invalid="true"' in found.group(0)


def test_the_follow_up_form_puts_a_future_date_on_its_field(clinician: Client) -> None:
    later = tomorrow().isoformat()
    form = page(clinician.get("/patients/P1/assessments/new/?lesion=P1-L1"))
    assert f'value="{today().isoformat()}"' in form  # today's visit by default
    assert f'max="{today().isoformat()}"' in form  # the date picker offers no later day
    before = AuditEntry.objects.count()
    response = clinician.post(
        "/patients/P1/assessments/new/",
        {"assessment_id": "P1-L1-V3", "lesion_id": "P1-L1", "assessment_date": later,
         "longest_diameter_mm": "0", "method": "caliper"},
    )  # fmt: skip
    assert response.status_code == 422
    body = page(response)
    assert invalid_field(body, "assessment_date")
    assert (
        f"assessment date {later} is in the future; allowed: up to {today().isoformat()} "
        "(today, UTC)"
    ) in body
    assert f"(value: {later})" not in body  # the message says it already
    assert AuditEntry.objects.count() == before


PATIENT_FORM = {
    "patient_id": "P1", "centre_id": "C01", "sex": "F", "birth_year": "1950",
    "primary_tumour": "melanoma", "stage": "IIIC", "braf_status": "mutant", "ecog": "1",
    "visceral_metastases": "false", "last_contact_date": "2021-06-01",
}  # fmt: skip


def test_the_patient_form_refuses_a_birth_year_in_the_future(clinician: Client) -> None:
    year = today().year + 1
    response = clinician.post("/patients/P1/edit/", {**PATIENT_FORM, "birth_year": str(year)})
    assert response.status_code == 422
    body = page(response)
    assert invalid_field(body, "birth_year")
    assert f"birth year {year} is in the future" in body
    response = clinician.post(
        "/patients/P1/edit/", {**PATIENT_FORM, "last_contact_date": "1949-05-01"}
    )
    assert invalid_field(page(response), "last_contact_date")
    assert "last contact date 1949-05-01 is before the year of birth 1950" in page(response)
    assert services.get(ADMIN, Patient, "P1").birth_year == 1950


def test_another_record_s_problem_is_told_in_clinical_words(clinician: Client) -> None:
    """A last contact before the patient's visits: the problems are those of other
    records (lesions, sessions, ...), told without file or column names."""
    response = clinician.post(
        "/patients/P1/edit/", {**PATIENT_FORM, "last_contact_date": "2020-01-15"}
    )
    assert response.status_code == 422
    body = page(response)
    assert "Session, session date: after the last contact date of patient P1" in body
    assert ".csv" not in body
    assert "after the last_contact_date" not in body
    assert services.get(ADMIN, Patient, "P1").last_contact_date == dt.date(2021, 6, 1)


# ------------------------------------------------------------------ imports
@pytest.mark.slow
def test_an_import_with_a_future_date_writes_nothing(dataset: Dataset, tmp_path: Path) -> None:
    def openect(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "openect", *args],
            capture_output=True, text=True, env=dict(os.environ), timeout=300, check=False,
        )  # fmt: skip

    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    assert openect("registry", "init", "--database", url).returncode == 0
    folder = write_dataset(dataset, tmp_path / "ds")
    line = set_cell(folder, "sessions.csv", "P2-S1", "session_date", tomorrow().isoformat())
    done = openect("registry", "import", str(folder), "--database", url, "--json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    assert report["imported"] is False
    [error] = [e for e in report["errors"] if e["column"] == "session_date"]
    assert (error["file"], error["row"]) == ("sessions.csv", line)
    assert "is in the future" in error["message"]
    status = json.loads(openect("registry", "status", "--database", url, "--json").stdout)
    assert set(status["counts"].values()) == {0}
