"""REST API (``/api/``): authentication, records, scope, audit, errors, schema and planning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client

from openect.data.dataset import Dataset
from openect.data.models import ENTITIES, Patient
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.settings import get_settings
from openect.web.api.planning import LESION_METHOD
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "patient.yaml"
PASSWORD = "a-long-test-password"


class Api:
    """A Django test client that calls the API as one user (bearer token)."""

    def __init__(self, token: str | None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        send = getattr(self.client, method.lower())
        kwargs: dict[str, Any] = {"headers": {**self.headers, **headers}}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return send(path, **kwargs)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)


def user_with_token(username: str, role: str, centre: str | None = None) -> str:
    """Create a registry user and return a fresh API token of theirs."""
    set_user(ADMIN, username, role, centre, PASSWORD)
    user = get_user_model().objects.get(username=username)
    return ApiToken.issue(user, "test")


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    """The small dataset: P1 (centre C01, rows in every table) and P2 (centre C02)."""
    import_dataset(ADMIN, dataset)
    return dataset


@pytest.fixture
def admin(registry: Dataset) -> Api:
    return Api(user_with_token("api.admin", "admin"))


@pytest.fixture
def c01(registry: Dataset) -> Api:
    return Api(user_with_token("doc.c01", "clinician", "C01"))


@pytest.fixture
def c02(registry: Dataset) -> Api:
    return Api(user_with_token("doc.c02", "clinician", "C02"))


@pytest.fixture
def analyst(registry: Dataset) -> Api:
    return Api(user_with_token("ana.lyst", "analyst"))


def ids(response: Any, key: str) -> list[str]:
    return [item[key] for item in response.json()["items"]]


def new_lesion(**changes: Any) -> dict[str, Any]:
    return {
        "lesion_id": "P1-L9",
        "patient_id": "P1",
        "body_site": "trunk_anterior",
        "layer": "cutaneous",
        "baseline_date": "2020-03-01",
        "longest_diameter_mm": 10,
        "perpendicular_diameter_mm": 8,
        "thickness_mm": 2,
        "symptoms": ["pain"],
        **changes,
    }


# ----------------------------------------------------------------------------- authentication
def test_a_bearer_token_authenticates(admin: Api) -> None:
    response = admin.get("/api/patients/")
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert ApiToken.objects.get(user__username="api.admin").last_used is not None


@pytest.mark.parametrize("header", [None, "Bearer oect_not-a-token", "Basic dXNlcjpwYXNz"])
def test_no_or_a_bad_token_is_401(registry: Dataset, header: str | None) -> None:
    client = Api(None)
    response = client.call("GET", "/api/patients/", **({"Authorization": header} if header else {}))
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_a_token_of_an_inactive_user_is_401(admin: Api) -> None:
    get_user_model().objects.filter(username="api.admin").update(is_active=False)
    assert admin.get("/api/patients/").status_code == 401


def test_a_user_without_a_registry_role_is_403(registry: Dataset) -> None:
    user = get_user_model().objects.create_user("nobody", password=PASSWORD)
    response = Api(ApiToken.issue(user, "t")).get("/api/patients/")
    assert response.status_code == 403
    assert "no registry role" in response.json()["detail"]


def test_session_authentication_needs_csrf_for_changes(c01: Api) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username="doc.c01"))
    session = Api(None, client)
    listed = session.get("/api/lesions/")
    assert listed.status_code == 200
    assert set(ids(listed, "lesion_id")) == {"P1-L1", "P1-L2"}

    refused = session.post("/api/lesions/", new_lesion())
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]

    secret = "s" * 32
    client.cookies["csrftoken"] = secret
    accepted = session.call("POST", "/api/lesions/", new_lesion(), **{"X-CSRFToken": secret})
    assert accepted.status_code == 201, accepted.json()
    assert AuditEntry.objects.filter(record_id="P1-L9").get().actor == "doc.c01"


# ----------------------------------------------------------------------------- records
def test_every_entity_has_list_and_get(admin: Api, registry: Dataset) -> None:
    for record in ENTITIES:
        rows = getattr(registry, record.table)
        listed = admin.get(f"/api/{record.table}/")
        assert listed.status_code == 200, record.table
        assert listed.json()["count"] == len(rows)
        first = rows[0]
        got = admin.get(f"/api/{record.table}/{first.id}")
        assert got.status_code == 200, record.table
        # the import numbered the patients within their centre (P1: the first of C01)
        numbered = {"patient_number": 1} if record is Patient else {}
        assert got.json() == first.model_dump(mode="json") | numbered


def test_create_get_update_delete_a_lesion(c01: Api) -> None:
    created = c01.post("/api/lesions/?reason=new+lesion", new_lesion())
    assert created.status_code == 201, created.json()
    assert created.json()["symptoms"] == ["pain"]
    assert c01.get("/api/lesions/P1-L9").json()["longest_diameter_mm"] == 10

    changed = c01.patch("/api/lesions/P1-L9?reason=remeasured", {"thickness_mm": 3.5})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["thickness_mm"] == 3.5
    assert changed.json()["longest_diameter_mm"] == 10  # untouched

    cleared = c01.patch("/api/lesions/P1-L9", {"perpendicular_diameter_mm": None, "symptoms": []})
    assert cleared.status_code == 200
    assert cleared.json()["perpendicular_diameter_mm"] is None
    assert cleared.json()["symptoms"] == []

    deleted = c01.delete("/api/lesions/P1-L9?reason=entered+twice")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert c01.get("/api/lesions/P1-L9").status_code == 404


def test_create_update_delete_other_entities(admin: Api) -> None:
    centre = admin.post("/api/centres/", {"centre_id": "C03", "name": "Third", "country": "IT"})
    assert centre.status_code == 201
    session = {
        "session_id": "P1-S2",
        "patient_id": "P1",
        "session_date": "2020-06-01",
        "session_number": 2,
        "drug": "bleomycin",
        "route": "intratumoural",
        "dose": 1000,
        "bolus_end_time": "10:30",
    }
    assert admin.post("/api/sessions/", session).status_code == 201
    event = {
        "event_id": "AE2",
        "patient_id": "P1",
        "session_id": "P1-S2",
        "onset_date": "2020-06-02",
        "term": "Pain",
        "grade": 1,
    }
    assert admin.post("/api/adverse_events/", event).status_code == 201
    assessment = {
        "assessment_id": "P1-L2-V2",
        "lesion_id": "P1-L2",
        "assessment_date": "2020-07-01",
        "longest_diameter_mm": 20,
        "method": "ultrasound",
    }
    assert admin.post("/api/assessments/", assessment).status_code == 201
    assert admin.patch("/api/adverse_events/AE2", {"grade": 2}).json()["grade"] == 2
    assert (
        admin.patch("/api/centres/C03", {"name": "Third centre"}).json()["name"] == "Third centre"
    )
    assert admin.get("/api/sessions/P1-S2").json()["bolus_end_time"] == "10:30:00"
    for row in ("adverse_events/AE2", "sessions/P1-S2", "assessments/P1-L2-V2", "centres/C03"):
        assert admin.delete(f"/api/{row}").status_code == 204, row


def test_lists_filter_by_reference_columns(admin: Api) -> None:
    assert ids(admin.get("/api/lesions/?patient_id=P2"), "lesion_id") == ["P2-L1"]
    assert ids(admin.get("/api/applications/?lesion_id=P1-L2"), "application_id") == ["P1-S1-A2"]
    assert ids(admin.get("/api/assessments/?lesion_id=P1-L1"), "assessment_id") == [
        "P1-L1-V1",
        "P1-L1-V2",
    ]
    assert admin.get("/api/patients/?centre_id=C02").json()["count"] == 1


def test_lists_are_paginated(admin: Api) -> None:
    everything = ids(admin.get("/api/lesions/"), "lesion_id")
    page = admin.get("/api/lesions/?limit=1&offset=1").json()
    assert page["count"] == len(everything) == 3
    assert (page["limit"], page["offset"]) == (1, 1)
    assert [item["lesion_id"] for item in page["items"]] == everything[1:2]
    assert admin.get("/api/lesions/?offset=10").json()["items"] == []
    too_big = admin.get("/api/lesions/?limit=100000")
    assert too_big.status_code == 422
    assert too_big.json()["detail"] == [
        {"loc": ["query", "limit"], "msg": "out of range; allowed: <= 1000", "value": "100000"}
    ]


def test_a_record_that_others_refer_to_is_not_deleted(admin: Api) -> None:
    response = admin.delete("/api/patients/P1")
    assert response.status_code == 409
    assert "still referred to by" in response.json()["detail"]


def test_unknown_ids_are_404_as_json(admin: Api) -> None:
    for url in ("/api/lesions/nope", "/api/lesions/a/b", "/api/lesions/a%0A"):
        response = admin.get(url)
        assert response.status_code == 404, url
        assert "detail" in response.json()
    nul = admin.get("/api/lesions/%00")  # text that cannot be stored: refused before any view
    assert nul.status_code == 400
    assert "NUL" in nul.json()["detail"]


# ----------------------------------------------------------------------------- scope
def test_another_centre_sees_nothing_of_c01(c02: Api) -> None:
    assert c02.get("/api/lesions/P1-L1").status_code == 404
    assert c02.get("/api/patients/P1").status_code == 404
    assert ids(c02.get("/api/lesions/"), "lesion_id") == ["P2-L1"]
    assert c02.get("/api/lesions/?patient_id=P1").json()["count"] == 0
    assert c02.get("/api/patients/").json()["count"] == 1
    assert c02.patch("/api/lesions/P1-L1", {"thickness_mm": 1}).status_code == 404
    assert c02.delete("/api/assessments/P1-L1-V1").status_code == 404
    created = c02.post("/api/lesions/", new_lesion())  # under P1: looks absent
    assert created.status_code == 422
    assert "unknown patient_id" in created.content.decode()
    assert c02.get("/api/lesions/P1-L9").status_code == 404


def test_the_server_numbers_a_new_record_and_keeps_ids_in_the_centres_namespace(
    c01: Api, c02: Api
) -> None:
    """Without an id the server numbers the lesion under its patient (P1-L1 and P1-L2
    exist); an id outside the patient's namespace is refused whether another centre holds
    it or not, so the answer never tells."""
    numbered = c01.post("/api/lesions/", new_lesion(lesion_id=None))
    assert numbered.status_code == 201
    assert numbered.json()["lesion_id"] == "P1-L3"
    left_out = {k: v for k, v in new_lesion().items() if k != "lesion_id"}
    assert c01.post("/api/lesions/", left_out).json()["lesion_id"] == "P1-L4"
    answers = []
    for lesion_id in ("P1-L1", "NOBODY-L1"):  # held by C01 / held by nobody
        refused = c02.post("/api/lesions/", new_lesion(lesion_id=lesion_id, patient_id="P2"))
        assert refused.status_code == 422
        (item,) = refused.json()["detail"]
        assert item["loc"] == ["lesion_id"]
        answers.append(item["msg"])
    assert (
        answers[0]
        == answers[1]
        == ("must begin with 'P2-' (its patient_id); leave it empty and the registry numbers it")
    )
    schema = c01.get("/api/openapi.json").json()["components"]["schemas"]["NewLesion"]
    assert "lesion_id" not in schema.get("required", [])


def test_an_analyst_reads_everything_but_writes_nothing(analyst: Api) -> None:
    assert analyst.get("/api/patients/").json()["count"] == 2
    assessment = analyst.get("/api/assessments/P1-L2-V1").json()
    assert assessment["override_response"] == "PR"
    assert assessment["override_reason"] is None  # free text blanked
    assert analyst.post("/api/lesions/", new_lesion()).status_code == 403
    assert analyst.patch("/api/lesions/P1-L1", {"thickness_mm": 1}).status_code == 403
    assert analyst.delete("/api/adverse_events/AE1").status_code == 403
    assert AuditEntry.objects.filter(actor="ana.lyst").count() == 0


# ----------------------------------------------------------------------------- audit
def test_every_api_change_is_audited_with_the_api_user(c01: Api) -> None:
    before = AuditEntry.objects.count()
    c01.post("/api/lesions/?reason=found+at+visit", new_lesion())
    c01.patch("/api/lesions/P1-L9?reason=remeasured", {"thickness_mm": 3})
    c01.delete("/api/lesions/P1-L9?reason=duplicate")
    entries = list(AuditEntry.objects.order_by("id")[before:])
    assert [(e.action, e.actor, e.role, e.reason) for e in entries] == [
        ("create", "doc.c01", "clinician", "found at visit"),
        ("update", "doc.c01", "clinician", "remeasured"),
        ("delete", "doc.c01", "clinician", "duplicate"),
    ]
    assert entries[1].before["thickness_mm"] == 2
    assert entries[1].after["thickness_mm"] == 3

    trail = c01.get("/api/audit/?record_id=P1-L9").json()
    assert trail["count"] == 3
    assert [item["action"] for item in trail["items"]] == ["create", "update", "delete"]
    assert trail["items"][1]["before"]["thickness_mm"] == 2


def test_the_audit_trail_is_scoped(admin: Api, c01: Api, c02: Api, analyst: Api) -> None:
    c01.patch("/api/lesions/P1-L1", {"thickness_mm": 3})
    assert c02.get("/api/audit/?record_id=P1-L1").json()["count"] == 0
    c02_entries = c02.get("/api/audit/?limit=1000").json()["items"]
    assert c02_entries
    assert {item["centre_id"] for item in c02_entries} <= {"C02", None}
    assert not any(item["entity"] == "users" for item in c02_entries)
    assert c01.get("/api/audit/?record_id=P1-L1").json()["count"] == 2  # import + update
    assert admin.get("/api/audit/?table=users").json()["count"] >= 4
    denied = analyst.get("/api/audit/")
    assert denied.status_code == 403
    assert "audit trail" in denied.json()["detail"]


# ----------------------------------------------------------------------------- validation errors
def test_a_value_out_of_range_is_422_worded_as_the_cli(c01: Api) -> None:
    response = c01.post("/api/lesions/", new_lesion(perpendicular_diameter_mm=600))
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "loc": ["perpendicular_diameter_mm"],
                "msg": "out of range; allowed: > 0 and <= 500 mm",
                "value": "600",
            }
        ]
    }
    patched = c01.patch("/api/lesions/P1-L1", {"longest_diameter_mm": 0})
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["msg"] == "out of range; allowed: > 0 and <= 500 mm"


def test_validation_errors_name_field_value_and_rule(c01: Api) -> None:
    missing = c01.post("/api/lesions/", {k: v for k, v in new_lesion().items() if k != "layer"})
    assert missing.json()["detail"] == [
        {"loc": ["layer"], "msg": "required; must not be empty", "value": None}
    ]
    enum = c01.post("/api/lesions/", new_lesion(layer="deep")).json()["detail"][0]
    assert enum["msg"] == "not an allowed value; allowed: one of cutaneous, subcutaneous"
    assert enum["value"] == "deep"
    longer = c01.patch("/api/lesions/P1-L1", {"longest_diameter_mm": 5})
    assert longer.status_code == 422
    assert longer.json()["detail"][0]["loc"] == ["perpendicular_diameter_mm"]
    assert "longer than longest_diameter_mm (5)" in longer.json()["detail"][0]["msg"]
    unknown = c01.patch("/api/lesions/P1-L1", {"colour": "red"}).json()["detail"][0]
    assert unknown["loc"] == ["colour"]
    assert unknown["msg"].startswith("unknown field; allowed: patient_id, body_site")
    required_null = c01.patch("/api/lesions/P1-L1", {"layer": None}).json()["detail"][0]
    assert required_null["msg"] == "required; must not be empty"
    duplicate = c01.post("/api/lesions/", new_lesion(lesion_id="P1-L1"))
    assert duplicate.json()["detail"][0]["msg"] == (
        "already in use; leave it empty and the registry numbers it"
    )
    unknown_patient = c01.post("/api/lesions/", new_lesion(patient_id="P404"))
    assert unknown_patient.status_code == 422
    assert "unknown patient_id" in unknown_patient.json()["detail"][0]["msg"]
    zoned = c01.patch("/api/applications/P1-S1-A1", {"time": "09:15:00+02:00"})
    assert zoned.status_code == 422
    assert "time zone" in zoned.json()["detail"][0]["msg"]
    empty = c01.client.post(
        "/api/lesions/", data=b"", content_type="application/json", headers=c01.headers
    )
    assert empty.status_code == 422
    assert empty.json()["detail"][0]["msg"] == "required; must not be empty"
    garbage = c01.client.post(
        "/api/lesions/", data="{not json", content_type="application/json", headers=c01.headers
    )
    assert garbage.status_code == 400
    assert garbage.json() == {"detail": "Cannot parse request body"}


def test_dataset_rules_apply_to_api_changes(c01: Api) -> None:
    """An assessment before the lesion's baseline breaks the date order of the patient."""
    early = {
        "assessment_id": "P1-L1-V0",
        "lesion_id": "P1-L1",
        "assessment_date": "2019-01-01",
        "longest_diameter_mm": 10,
    }
    response = c01.post("/api/assessments/", early)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["assessment_date"]


# ----------------------------------------------------------------------------- registration
def test_a_patient_is_registered_by_hospital_number(
    c01: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENECT_PSEUDONYM_KEY", "k" * 40)
    get_settings.cache_clear()  # read once per process: issuing c01's token read them
    body = {
        "hospital_number": "MRN-0042",
        "centre_id": "C01",
        "sex": "F",
        "birth_year": 1960,
        "primary_tumour": "breast",
    }
    response = c01.post("/api/patients/register", body)
    assert response.status_code == 201, response.json()
    patient_id = response.json()["patient_id"]
    assert patient_id.startswith("PX-")
    assert "MRN-0042" not in response.content.decode()
    entry = AuditEntry.objects.get(record_id=patient_id)
    assert entry.actor == "doc.c01"
    assert "MRN-0042" not in json.dumps(entry.after)
    again = c01.post("/api/patients/register", body)
    assert again.status_code == 422
    assert again.json()["detail"][0]["msg"] == (
        "this hospital number is already registered at this centre"
    )
    bad = c01.post("/api/patients/register", {**body, "hospital_number": "   ", "birth_year": 1})
    assert bad.status_code == 422
    assert all("MRN" not in json.dumps(item) for item in bad.json()["detail"])
    hidden = [item for item in bad.json()["detail"] if item["loc"] == ["hospital_number"]]
    assert hidden == [hidden[0] | {"value": None}]


def test_registration_without_a_key_is_503(
    c01: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENECT_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("OPENECT_PSEUDONYM_KEY_FILE", str(tmp_path / "missing.key"))
    body = {
        "hospital_number": "MRN-0042",
        "centre_id": "C01",
        "sex": "F",
        "birth_year": 1960,
        "primary_tumour": "breast",
    }
    response = c01.post("/api/patients/register", body)
    assert response.status_code == 503
    assert "no pseudonymisation key" in response.json()["detail"]
    assert "MRN-0042" not in response.content.decode()


# ----------------------------------------------------------------------------- schema
def test_the_openapi_schema_is_valid_and_lists_every_route(registry: Dataset) -> None:
    import schemathesis

    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    schemathesis.openapi.from_dict(document).validate()
    paths = document["paths"]
    for record in ENTITIES:
        assert set(paths[f"/api/{record.table}/"]) == {"get", "post"}
        assert set(paths[f"/api/{record.table}/{{record_id}}"]) == {"get", "patch", "delete"}
    for url in ("/api/patients/register", "/api/plan/session", "/api/plan/lesion"):
        assert "post" in paths[url]
    assert "get" in paths["/api/audit/"]
    assert "get" in paths["/api/lesions/{lesion_id}/response-preview"]
    assert set(paths["/api/voids"]) == set(paths["/api/voids/restore"]) == {"post"}
    operation_ids = [op["operationId"] for ops in paths.values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids)) == 9 * 5 + 5 + 2
    assert Client().get("/api/docs").status_code == 200


# ----------------------------------------------------------------------------- planning
def test_plan_session_from_the_registry(c01: Api, c02: Api) -> None:
    response = c01.post("/api/plan/session", {"patient_id": "P1", "window": "standard"})
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["patient_id"] == "P1"
    assert plan["route"] == "intravenous"
    assert plan["dose_iu"] > 0
    assert {lesion["lesion_id"] for lesion in plan["lesions"]} == {"P1-L1", "P1-L2"}
    assert c02.post("/api/plan/session", {"patient_id": "P1"}).status_code == 404
    no_height = c02.post("/api/plan/session", {"patient_id": "P2"})
    assert no_height.status_code == 422
    assert no_height.json()["detail"][0]["loc"] == ["patient_id"]


def test_plan_session_from_a_request(c01: Api) -> None:
    request = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    response = c01.post("/api/plan/session", request)
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["patient_id"] == "EXAMPLE-01"
    assert [lesion["lesion_id"] for lesion in plan["lesions"]] == ["L1", "L2", "L3"]
    assert plan["rule_set"] == "sop-2018"

    request["patient"]["height_cm"] = 10
    bad = c01.post("/api/plan/session", request)
    assert bad.status_code == 422
    assert bad.json()["detail"] == [
        {"loc": ["patient", "height_cm"], "msg": "out of range; allowed: 50 to 250", "value": "10"}
    ]
    request["patient"]["height_cm"] = 164
    request["lesions"][1]["thickness_mm"] = 0
    lesion = c01.post("/api/plan/session", request).json()["detail"][0]
    assert lesion["loc"] == ["lesions", 1, "thickness_mm"]
    assert lesion["msg"] == "out of range; allowed: > 0 and <= 200 mm"
    request["lesions"][1]["thickness_mm"] = 2
    request["options"]["rules"] = "/etc/passwd"
    rules = c01.post("/api/plan/session", request).json()["detail"][0]
    assert rules["loc"] == ["options", "rules"]
    assert rules["msg"].startswith("not an allowed value; allowed: one of ")
    request["options"] = {"drug": "cisplatin", "route": "intravenous"}
    cisplatin = c01.post("/api/plan/session", request)
    assert cisplatin.status_code == 422
    assert "intratumourally" in cisplatin.json()["detail"][0]["msg"]


def test_plan_lesion_estimates_applications(c01: Api) -> None:
    body = {
        "longest_diameter_mm": 12,
        "perpendicular_diameter_mm": 9,
        "thickness_mm": 4,
        "layer": "cutaneous",
    }
    response = c01.post("/api/plan/lesion", body)
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["method"] == LESION_METHOD
    assert plan["electrode"] == plan["rule_based_electrode"] == "linear"
    assert plan["electrode_source"] == "rules"
    assert isinstance(plan["applications"], int)
    assert plan["applications"] >= 1
    assert plan["rules"]

    given = c01.post("/api/plan/lesion", {**body, "electrode": "hexagonal", "margin_mm": 0})
    assert given.status_code == 200
    hexagonal = given.json()
    assert hexagonal["electrode"] == "hexagonal"
    assert hexagonal["electrode_source"] == "request"
    assert hexagonal["applications"] == 1  # 0.85 cm2 against a 1.5 cm2 footprint
    assert hexagonal["pulses"] == 96

    bad = c01.post("/api/plan/lesion", {**body, "longest_diameter_mm": 0})
    assert bad.status_code == 422
    assert bad.json()["detail"] == [
        {
            "loc": ["longest_diameter_mm"],
            "msg": "out of range; allowed: > 0 and <= 500 mm",
            "value": "0",
        }
    ]
    wider = c01.post("/api/plan/lesion", {**body, "perpendicular_diameter_mm": 20}).json()
    assert wider["detail"][0]["loc"] == ["perpendicular_diameter_mm"]
    assert Api(None).post("/api/plan/lesion", body).status_code == 401


def test_plan_lesion_with_a_plate_on_a_deep_lesion_says_so(c01: Api) -> None:
    body = {
        "longest_diameter_mm": 30,
        "thickness_mm": 12,
        "layer": "subcutaneous",
        "electrode": "plate",
        "lesion_id": "P1-L2",
    }
    plan = c01.post("/api/plan/lesion", body).json()
    assert plan["electrode"] == "plate"
    assert plan["rule_based_electrode"] == "hexagonal"
    assert plan["notes"][0] == "electrode plate given; the rules suggest hexagonal"
    assert any("depth limit" in note for note in plan["notes"])
    assert plan["needle_length_mm"] is None
    assert all(warning.startswith("P1-L2: ") for warning in plan["warnings"][:3])


def test_plan_lesion_with_the_coverage_planner(c01: Api) -> None:
    body = {
        "longest_diameter_mm": 8,
        "perpendicular_diameter_mm": 6,
        "thickness_mm": 4,
        "layer": "cutaneous",
        "coverage": True,
    }
    response = c01.post("/api/plan/lesion", body)
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["method"].startswith("coverage planner")
    coverage = plan["coverage_plan"]
    assert plan["applications"] == coverage["count"] == len(coverage["applications"])
    assert coverage["electrode"] == plan["electrode"] == "linear"
    assert coverage["coverage"]["verified_3d"] is False
    assert coverage["coverage"]["placement_lesion_fraction"] == 1.0
    missing = c01.post("/api/plan/lesion", {**body, "thickness_mm": None})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["thickness_mm"]


def test_the_schema_1_1_fields_are_accepted_and_returned(admin: Api) -> None:
    session = {
        "session_id": "P1-S2",
        "patient_id": "P1",
        "session_date": "2020-06-01",
        "session_number": 2,
        "anaesthesia": "local",
        "drug": "calcium_chloride",
        "route": "intratumoural",
        "dose": 6.5,
        "pain_during_nrs": 4,
        "pain_after_nrs": 2,
        "analgesia": ["local_anaesthetic", "paracetamol_nsaid"],
    }
    created = admin.post("/api/sessions/", session)
    assert created.status_code == 201, created.json()
    got = admin.get("/api/sessions/P1-S2").json()
    assert {k: got[k] for k in session} == session
    patient = admin.patch(
        "/api/patients/P1", {"dlco_percent_predicted": 81.0, "dlco_date": "2020-02-01"}
    )
    assert patient.status_code == 200
    assert (patient.json()["dlco_percent_predicted"], patient.json()["dlco_date"]) == (
        81.0,
        "2020-02-01",
    )
    assert patient.json()["chest_imaging_date"] is None
    therapy = admin.patch(
        "/api/systemic_therapies/T1", {"agent_class": "ect_elsewhere", "bleomycin_iu": 30000}
    )
    assert therapy.status_code == 200
    assert therapy.json()["bleomycin_iu"] == 30000.0

    def refused(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = admin.patch(path, body)
        assert response.status_code == 422, response.json()
        (detail,) = response.json()["detail"]
        return dict(detail)

    pain = refused("/api/sessions/P1-S2", {"pain_during_nrs": 11})
    assert (pain["loc"], pain["msg"]) == (["pain_during_nrs"], "out of range; allowed: 0 to 10")
    dlco = refused("/api/patients/P1", {"dlco_percent_predicted": 250})
    assert dlco["msg"] == "out of range; allowed: > 0 and <= 200 %"
    bleomycin = refused("/api/systemic_therapies/T1", {"bleomycin_iu": -1})
    assert bleomycin["msg"] == "out of range; allowed: 0 to 2000000 IU"
    alone = refused("/api/sessions/P1-S2", {"analgesia": ["none", "opioid"]})
    assert "give none alone" in alone["msg"]
    intravenous = refused("/api/sessions/P1-S2", {"route": "intravenous"})
    assert intravenous["loc"] == ["route"]
    assert "given intratumourally only" in intravenous["msg"]
    assert admin.get("/api/sessions/P1-S2").json()["route"] == "intratumoural"
