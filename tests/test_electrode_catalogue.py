"""An application's electrode comes from the electrode catalogue (optionally with the
device code): the data model refuses anything else, so data validate, imports, the API
and the forms do; a record stored before the rule stays readable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client
from pydantic import ValidationError

from dataset_files import set_cell
from openect.cli import main
from openect.data.dataset import Dataset
from openect.data.models import AS_STORED, ELECTRODE_KINDS, Application
from openect.protocol.electrodes import Electrode
from openect.registry import accounts
from openect.registry.access import Actor
from openect.registry.models import Role
from openect.registry.transfer import import_dataset

ROW = {"application_id": "P1-S1-A9", "session_id": "P1-S1", "lesion_id": "P1-L1"}
MESSAGE = (
    "electrode 'spoon' is not in the electrode catalogue; allowed: plate, linear, hexagonal "
    "or finger, optionally with the device code after ':' (linear:N-10-4B)"
)


def test_the_kinds_are_the_protocol_electrodes() -> None:
    assert tuple(e.value for e in Electrode) == ELECTRODE_KINDS


@pytest.mark.parametrize("value", ["plate", "linear:N-10-4B", "hexagonal", "finger:F1"])
def test_catalogue_electrodes_are_taken(value: str) -> None:
    assert Application.model_validate({**ROW, "electrode": value}).electrode == value


@pytest.mark.parametrize("value", ["spoon", "spoon:N-10", "needle-pair"])
def test_other_electrodes_are_refused_naming_the_catalogue(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Application.model_validate({**ROW, "electrode": value})
    (error,) = caught.value.errors()
    assert error["loc"] == ("electrode",)
    kind = value.partition(":")[0]
    assert MESSAGE.replace("'spoon'", repr(kind)) in error["msg"]


def test_a_stored_record_stays_readable() -> None:
    stored = Application.model_validate({**ROW, "electrode": "spoon"}, context=AS_STORED)
    assert stored.electrode == "spoon"


def test_data_validate_refuses_an_unknown_electrode(
    capsys: pytest.CaptureFixture[str], dataset_dir: Path
) -> None:
    line = set_cell(dataset_dir, "applications.csv", "P1-S1-A1", "electrode", "spoon")
    code = main(["data", "validate", str(dataset_dir), "--json"])
    out, _ = capsys.readouterr()
    assert code == 2
    errors = json.loads(out)["errors"]
    assert {"file": "applications.csv", "row": line, "column": "electrode", "value": "spoon",
            "message": MESSAGE} in errors  # fmt: skip


@pytest.mark.django_db
def test_the_api_refuses_an_unknown_electrode_and_writes_nothing(dataset: Dataset) -> None:
    from django.contrib.auth import get_user_model

    from openect.web.models import ApiToken

    admin = Actor("admin", Role.ADMIN)
    import_dataset(admin, dataset)
    accounts.set_user(admin, "dr.one", "clinician", "C01", "correct-horse-battery")
    token = ApiToken.issue(get_user_model().objects.get(username="dr.one"), "test")
    client = Client(headers={"Authorization": f"Bearer {token}"})
    before = client.get("/api/applications/").json()["count"]
    response = client.post(
        "/api/applications/",
        json.dumps({"session_id": "P1-S1", "lesion_id": "P1-L1", "electrode": "spoon"}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert MESSAGE in response.content.decode()
    assert client.get("/api/applications/").json()["count"] == before
