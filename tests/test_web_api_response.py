"""``GET /api/lesions/{id}/response-preview``: the live response of the follow-up form.

On the small dataset: P1-L1 (12 mm, treated, then 6 mm and 0 mm), P1-L2 (35 mm, an
override PR whose reason analysts do not see), P1 of centre C01, P2-L1 of centre C02.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from openect.data.dataset import Dataset
from openect.data.models import Assessment, Lesion
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.accounts import set_user
from openect.registry.models import AuditEntry, Role
from openect.registry.transfer import import_dataset
from openect.web.models import ApiToken

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", Role.ADMIN)
PREVIEW = "/api/lesions/{}/response-preview"


@pytest.fixture
def registry(dataset: Dataset) -> Dataset:
    import_dataset(ADMIN, dataset)
    return dataset


def signed_in(username: str, role: str, centre: str | None = None) -> Client:
    """A browser session of a registry user (what the follow-up page's script sends)."""
    set_user(ADMIN, username, role, centre)
    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def clinician(registry: Dataset) -> Client:
    return signed_in("doc.c01", "clinician", "C01")


def preview(client: Client, lesion: str = "P1-L1", **params: str) -> Any:
    return client.get(PREVIEW.format(lesion), {"assessment_date": "2020-06-01", **params})


def problems(response: Any) -> dict[str, tuple[str, str | None]]:
    """The 422's problems by query parameter: (message, value given)."""
    assert response.status_code == 422, response.content
    out = {}
    for item in response.json()["detail"]:
        assert item["loc"][0] == "query", item
        out[item["loc"][-1]] = (item["msg"], item["value"])
    return out


def test_the_preview_derives_cr_for_0_mm_and_pd_for_regrowth_without_saving(
    clinician: Client,
) -> None:
    before = (AuditEntry.objects.count(), services.count(ADMIN, Assessment))
    cr = preview(clinician, longest_diameter_mm="0")
    assert cr.status_code == 200
    assert cr.json()["category"] == "CR"
    assert cr.json()["criteria"]["who"]["category"] == "CR"
    assert cr.json()["status"] == "categorised"
    assert cr.json()["lesion_id"] == "P1-L1"
    assert cr.json()["assessment_date"] == "2020-06-01"
    pd = preview(clinician, "P1-L2", longest_diameter_mm="60", perpendicular_diameter_mm="50")
    body = pd.json()
    assert body["category"] == "PD"
    assert body["criteria"]["who"]["category"] == "PD"
    assert body["criteria"]["recist"]["change_from_nadir_pct"] == 100.0  # 60 vs nadir 30
    assert body["criteria"]["who"]["unit"] == "mm2"
    pr = preview(clinician, longest_diameter_mm="5", assessment_date="2020-04-20")
    assert pr.json()["category"] == "PR"
    assert (AuditEntry.objects.count(), services.count(ADMIN, Assessment)) == before


def test_the_preview_reports_pre_treatment_untreated_and_edited_assessments(
    clinician: Client,
) -> None:
    early = preview(clinician, longest_diameter_mm="10", assessment_date="2020-03-01")
    assert early.json()["status"] == "pre_treatment"
    assert early.json()["category"] is None
    assert "baseline" in early.json()["message"]
    treated = services.get(ADMIN, Lesion, "P1-L1")
    services.create(ADMIN, treated.model_copy(update={"lesion_id": "P1-L3"}))
    untreated = preview(clinician, "P1-L3", longest_diameter_mm="3")
    assert untreated.status_code == 200
    assert untreated.json()["status"] == "untreated"
    assert untreated.json()["criteria"]["recist"]["category"] is None
    # editing an assessment replaces it instead of adding one
    edited = preview(clinician, longest_diameter_mm="20", assessment_id="P1-L1-V2")
    assert edited.json()["category"] == "PD"  # 20 mm vs nadir 6 mm (V1)


def test_invalid_values_are_422_naming_each_field_in_the_data_models_words(
    clinician: Client,
) -> None:
    bad = problems(preview(clinician, longest_diameter_mm="600"))
    assert bad["longest_diameter_mm"] == ("out of range; allowed: 0 to 500 mm", "600")
    longer = problems(preview(clinician, longest_diameter_mm="5", perpendicular_diameter_mm="8"))
    assert "longer than longest_diameter_mm" in longer["perpendicular_diameter_mm"][0]
    text = problems(preview(clinician, longest_diameter_mm="abc"))
    assert text["longest_diameter_mm"][0].startswith("not a number")
    assert text["longest_diameter_mm"][1] == "abc"
    missing = problems(clinician.get(PREVIEW.format("P1-L1"), {"longest_diameter_mm": "3"}))
    assert "assessment_date" in missing
    unknown = problems(preview(clinician, longest_diameter_mm="3", assessment_id="P2-L1-V1"))
    assert unknown["assessment_id"] == ("no assessment 'P2-L1-V1' of patient 'P1'", "P2-L1-V1")


def test_scope_other_centres_lesions_look_absent_and_analysts_read_every_centre(
    clinician: Client,
) -> None:
    assert preview(clinician, "P2-L1", longest_diameter_mm="1").status_code == 404
    assert preview(clinician, "nonexistent", longest_diameter_mm="1").status_code == 404
    assert preview(clinician, "P1-L1/../P2-L1", longest_diameter_mm="1").status_code == 404
    analyst = signed_in("ana", "analyst")
    assert preview(analyst, "P2-L1", longest_diameter_mm="1").status_code == 200
    # the override reason is hidden from analysts: the override still counts for the nadir
    mine = preview(clinician, "P1-L2", longest_diameter_mm="60", perpendicular_diameter_mm="50")
    theirs = preview(analyst, "P1-L2", longest_diameter_mm="60", perpendicular_diameter_mm="50")
    assert theirs.json() == mine.json()


def test_sign_in_is_needed_and_a_token_works_too(registry: Dataset) -> None:
    assert preview(Client(), longest_diameter_mm="0").status_code == 401
    set_user(ADMIN, "api.c01", "clinician", "C01")
    token = ApiToken.issue(get_user_model().objects.get(username="api.c01"), "test")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert preview(client, longest_diameter_mm="0").json()["category"] == "CR"


def test_the_old_page_route_is_gone_and_the_schema_lists_the_api_route(
    clinician: Client,
) -> None:
    old = clinician.get(
        "/patients/P1/lesions/P1-L1/response-preview",
        {"longest_diameter_mm": "0", "assessment_date": "2020-06-01"},
    )
    assert old.status_code == 404
    schema = Client().get("/api/openapi.json").json()
    operation = schema["paths"]["/api/lesions/{lesion_id}/response-preview"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "lesion_id",
        "longest_diameter_mm",
        "perpendicular_diameter_mm",
        "assessment_date",
        "assessment_id",
    }
    assert set(operation["responses"]) >= {"200", "401", "403", "404", "422"}
    assert "ResponsePreview" in schema["components"]["schemas"]
