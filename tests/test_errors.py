"""One error hierarchy: types map to HTTP statuses and exit codes; one translator of
validation errors names the field, the value and what is allowed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from openect import errors
from openect.cli import main
from openect.data.dataset import Dataset
from openect.data.field_errors import FieldError, field_errors, field_path
from openect.data.models import Lesion
from openect.protocol.inputs import PatientToPlan, SessionRequest, request_from_dataset


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.RecordInvalidError("lesions", [("layer", "deep", "not an allowed value")]), 422),
        (errors.NotFoundError("lesions: no lesion_id='X'"), 404),
        (errors.AccessDeniedError("not signed in"), 403),
        (errors.RecordInUseError("patients 'P1': still referred to"), 409),
        (errors.ConfigurationError("no pseudonymisation key"), 503),
        (errors.ComputationError("REML did not converge"), 500),
        (errors.RuleError("rule x: not a number"), 400),
        (errors.InputError("offset=-1: allowed >= 0"), 400),
    ],
)
def test_http_status_follows_the_type_not_the_message(
    error: errors.OpenECTError, status: int
) -> None:
    assert errors.http_status(error) == status


def test_exit_codes() -> None:
    assert errors.exit_code(errors.InputError("x")) == 2
    assert errors.exit_code(errors.NotFoundError("x")) == 2
    assert errors.exit_code(errors.ComputationError("x")) == 1


def test_every_error_of_openect_is_in_the_hierarchy() -> None:
    """The errors raised on purpose elsewhere are OpenECTErrors (so adapters map them)."""
    from openect.cli._output import CliError
    from openect.data.csvio import DatasetError
    from openect.evidence.meta import ConvergenceError
    from openect.planning.outline import OutlineError
    from openect.registry.pseudonym import PseudonymKeyError
    from openect.registry.transfer import ImportRejectedError

    assert issubclass(CliError, errors.InputError)
    assert issubclass(DatasetError, errors.InputError)
    assert issubclass(OutlineError, errors.InputError)
    assert issubclass(ImportRejectedError, errors.InputError)
    assert issubclass(PseudonymKeyError, errors.ConfigurationError)
    assert issubclass(ConvergenceError, errors.ComputationError)


def test_record_invalid_message_names_table_column_and_value() -> None:
    error = errors.RecordInvalidError("lesions", [("layer", "deep", "not an allowed value")])
    assert str(error) == "lesions.layer='deep': not an allowed value"
    assert error.entity == "lesions"
    assert error.issues[0][0] == "layer"


def _lesion(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "lesion_id": "P1-L1",
        "patient_id": "P1",
        "body_site": "trunk",
        "layer": "cutaneous",
        "baseline_date": "2024-01-10",
        "longest_diameter_mm": 12,
    }
    return values | changes


def test_field_errors_of_a_record_name_the_allowed_range_and_unit() -> None:
    values = _lesion(longest_diameter_mm="0", layer="deep")
    with pytest.raises(ValidationError) as caught:
        Lesion.model_validate(values)
    found = {e.field: e for e in field_errors(caught.value, Lesion, values)}
    assert found["longest_diameter_mm"].value == "0"
    assert found["longest_diameter_mm"].message.startswith("out of range; allowed: > 0")
    assert found["longest_diameter_mm"].message.endswith("mm")
    assert found["layer"].message == "not an allowed value; allowed: one of cutaneous, subcutaneous"
    assert str(found["layer"]) == (
        "layer='deep': not an allowed value; allowed: one of cutaneous, subcutaneous"
    )


def test_field_errors_of_a_request_give_the_path_and_the_bound() -> None:
    with pytest.raises(ValidationError) as caught:
        SessionRequest.model_validate(
            {
                "patient": {"age_years": 60, "height_cm": 300, "weight_kg": 70},
                "lesions": [_lesion(longest_diameter_mm=-1)],
            }
        )
    found = {e.field: e for e in field_errors(caught.value)}
    assert found["patient.height_cm"].value == 300
    assert "less than or equal to 250" in found["patient.height_cm"].message
    assert "lesions[0].longest_diameter_mm" in found


def test_field_error_text_without_a_value() -> None:
    assert str(FieldError("lesions", [1, 2], "too short")) == "lesions: too short"
    assert str(FieldError(None, None, "give at most one of a, b")) == "give at most one of a, b"
    assert field_path(("lesions", 2, "layer")) == "lesions[2].layer"


def test_request_from_dataset_raises_key_error_for_an_unknown_patient() -> None:
    with pytest.raises(KeyError, match="no patient P9"):
        request_from_dataset(Dataset(), "P9")


def test_patient_to_plan_model_rule_message_is_kept() -> None:
    with pytest.raises(ValidationError) as caught:
        PatientToPlan(
            age_years=60,
            height_cm=170,
            weight_kg=70,
            creatinine_mg_dl=1.0,
            creatinine_clearance_ml_min=80,
            session_date=dt.date(2024, 1, 1),
        )
    (problem,) = field_errors(caught.value)
    assert problem.message == "give at most one of creatinine_mg_dl, creatinine_clearance_ml_min"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


def test_cli_maps_an_openect_error_to_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dataset_dir: Path
) -> None:
    def refuse(directory: Path) -> None:
        raise errors.NotFoundError("patients: no patient_id='P9'")

    monkeypatch.setattr("openect.cli.data.load_dataset", refuse)
    assert _run(capsys, "data", "validate", str(dataset_dir)) == (
        2,
        "openect: error: patients: no patient_id='P9'\n",
    )


def test_cli_maps_a_failed_computation_to_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dataset_dir: Path
) -> None:
    def diverge(directory: Path) -> None:
        raise errors.ComputationError("did not converge in 100 iterations")

    monkeypatch.setattr("openect.cli.data.load_dataset", diverge)
    assert _run(capsys, "data", "validate", str(dataset_dir)) == (
        1,
        "openect: error: did not converge in 100 iterations\n",
    )


def test_cli_usage_errors_are_click_exceptions(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "data", "validate", "--no-such-option")
    assert code == 2
    assert err.startswith("openect: error: No such option: --no-such-option")
    assert main(["data"]) == 2
    out, err = capsys.readouterr()
    assert "validate" in out + err  # the group's help
    assert "openect: error" not in err
