"""FHIR export: the bundle is valid FHIR R4, self-contained, complete and deterministic.

Validation uses ``fhir.resources.R4B`` (FHIR 4.3, the R4-compatible release of the
package, whose default is R5): every resource of the bundle is parsed by its model.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fhir.resources.R4B.bundle import Bundle

from openect.data.dataset import Dataset
from openect.data.enums import Drug, Route
from openect.data.models import (
    ENTITIES,
    AdverseEvent,
    Application,
    Assessment,
    Lesion,
    Patient,
    PatientReported,
    Record,
    Session,
    SystemicTherapy,
)
from openect.data.schema import column_index, columns
from openect.exchange.fhir import (
    LOINC,
    SNOMED,
    STANDARD_ELEMENTS,
    UCUM,
    UCUM_CODES,
    URN_NAMESPACE,
    dataset_to_bundle,
    extension_columns,
    extension_url,
    fhir_id,
    reference_urn,
    write_bundle,
)
from openect.synth import generate_cohort

Json = dict[str, Any]
R = TypeVar("R", bound=Record)


#: Codes allowed by the required bindings of the elements the export fills (FHIR R4).
REQUIRED_BINDINGS: dict[str, dict[str, set[str]]] = {
    "Patient": {"gender": {"male", "female", "other", "unknown"}},
    "Procedure": {
        "status": {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed"}
        | {"entered-in-error", "unknown"}
    },
    "Observation": {"status": {"registered", "preliminary", "final", "amended"}},
    "MedicationAdministration": {"status": {"in-progress", "not-done", "on-hold", "completed"}},
    "MedicationStatement": {"status": {"active", "completed", "intended", "stopped", "on-hold"}},
    "AdverseEvent": {"actuality": {"actual", "potential"}},
}


def synthetic() -> Dataset:
    """A small generated cohort: several centres, retreatments, every table filled."""
    return generate_cohort(12, centres=3, seed=11)


def replace(record: R, **changes: Any) -> R:
    """A validated copy of ``record`` with ``changes``."""
    return type(record).model_validate({**record.model_dump(), **changes})


def references(node: Any) -> Iterator[str]:
    """Every ``Reference.reference`` anywhere below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references(value)
    elif isinstance(node, list):
        for item in node:
            yield from references(item)


def resources(bundle: Json, resource_type: str | None = None) -> list[Json]:
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if resource_type is None or entry["resource"]["resourceType"] == resource_type
    ]


def by_id(bundle: Json, resource_type: str, resource_id: str) -> Json:
    (found,) = [r for r in resources(bundle, resource_type) if r["id"] == resource_id]
    return found


def extension_values(resource: Json, model: type[Record], column: str) -> list[Any]:
    url = extension_url(model, column)
    out = []
    for extension in resource.get("extension", []):
        if extension["url"] == url:
            (value,) = [v for k, v in extension.items() if k.startswith("value")]
            out.append(value)
    return out


def assert_self_contained(bundle: Json) -> None:
    full_urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls)), "fullUrls are unique"
    keys = [(r["resourceType"], r["id"]) for r in resources(bundle)]
    assert len(keys) == len(set(keys)), "type/id pairs are unique"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == reference_urn(resource["resourceType"], resource["id"])
    dangling = set(references(bundle)) - set(full_urls)
    assert not dangling, f"references that resolve to no entry: {sorted(dangling)[:5]}"


# -- validity --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [pytest.param(None, id="hand-written"), synthetic])
def test_bundle_is_valid_fhir_r4_and_every_reference_resolves(dataset: Dataset, make: Any) -> None:
    data = dataset if make is None else make()
    bundle = dataset_to_bundle(data)

    parsed = Bundle.model_validate(bundle)

    assert parsed.type == "collection"
    assert len(parsed.entry or []) == len(bundle["entry"])
    assert_self_contained(bundle)
    # fhir.resources checks structure and data types, not required code bindings:
    for resource in resources(bundle):
        for element, allowed in REQUIRED_BINDINGS.get(resource["resourceType"], {}).items():
            assert resource[element] in allowed, (resource["id"], element)


def test_a_synthetic_dataset_is_labelled_as_test_data(dataset: Dataset) -> None:
    real = dataset_to_bundle(dataset)
    generated = dataset_to_bundle(synthetic())

    assert "meta" not in real
    assert generated["meta"]["security"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
            "code": "HTEST",
            "display": "test health data",
        }
    ]


# -- counts: one resource per record ---------------------------------------------------


def kind(resource: Json) -> str:
    """What a resource stands for, from its id prefix or type."""
    rid = resource["id"]
    prefixes = ["primary-", "lesion-", "baseline-", "size-", "response-", "ecog-", "pain-"]
    prefixes += ["eq5d-", "session-", "application-"]
    for prefix in prefixes:
        if rid.startswith(prefix):
            return f"{resource['resourceType']}:{prefix.rstrip('-')}"
    return str(resource["resourceType"])


@pytest.mark.parametrize("make", [pytest.param(None, id="hand-written"), synthetic])
def test_one_resource_per_record(dataset: Dataset, make: Any) -> None:
    data = dataset if make is None else make()
    counts = Counter(kind(r) for r in resources(dataset_to_bundle(data)))

    eq5d_columns = extension_columns(PatientReported)
    assert counts == Counter(
        {
            "Organization": len(data.centres),
            "Patient": len(data.patients),
            "Condition:primary": len(data.patients),
            "Observation:ecog": sum(p.ecog is not None for p in data.patients),
            "Condition:lesion": len(data.lesions),
            "Observation:baseline": len(data.lesions),
            "Procedure:session": len(data.sessions),
            "MedicationAdministration:session": len(data.sessions),
            "Procedure:application": len(data.applications),
            "Observation:size": len(data.assessments),
            "Observation:response": sum(a.override_response is not None for a in data.assessments),
            "AdverseEvent": len(data.adverse_events),
            "Observation:pain": sum(r.pain_nrs is not None for r in data.patient_reported),
            "Observation:eq5d": sum(
                any(getattr(r, c) is not None for c in eq5d_columns) for r in data.patient_reported
            ),
            "MedicationStatement": len(data.systemic_therapies),
        }
    )


# -- completeness: every column reaches the bundle -------------------------------------


def test_every_column_has_a_standard_element_or_an_extension() -> None:
    for model in ENTITIES:
        names = [c.name for c in columns(model)]
        standard = STANDARD_ELEMENTS[model]
        assert set(standard) <= set(names), model.table
        assert [n for n in names if n not in standard] == list(extension_columns(model))


def test_every_non_standard_cell_is_an_extension_with_its_schema_unit(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    carriers: dict[type[Record], tuple[str, str]] = {
        Lesion: ("Condition", "lesion-"),
        Application: ("Procedure", "application-"),
        Assessment: ("Observation", "size-"),
        AdverseEvent: ("AdverseEvent", ""),
        SystemicTherapy: ("MedicationStatement", ""),
    }
    for model, (resource_type, prefix) in carriers.items():
        index = column_index(model)
        records: list[Record] = dataset.records(model)
        for record in records:
            resource = by_id(bundle, resource_type, fhir_id(record.id, prefix))
            for name in extension_columns(model):
                value = getattr(record, name)
                found = extension_values(resource, model, name)
                if value is None:
                    assert found == [], (model.table, name)
                elif index[name].kind == "list":
                    assert found == [item.value for item in value]
                elif (unit := index[name].unit) is not None:
                    (quantity,) = found
                    assert quantity == {
                        "value": value,
                        "unit": unit,
                        "system": UCUM,
                        "code": UCUM_CODES[unit],
                    }
                else:
                    assert len(found) == 1, (model.table, name)


def test_every_unit_of_the_data_model_has_a_ucum_code() -> None:
    units = {u for m in ENTITIES for c in columns(m) if c.unit for u in c.unit.split("|")}
    assert units <= set(UCUM_CODES)


def test_session_extensions_are_split_between_procedure_and_drug(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    procedure = by_id(bundle, "Procedure", "session-P1-S1")
    drug = by_id(bundle, "MedicationAdministration", "session-P1-S1")

    assert extension_values(procedure, Session, "anaesthesia") == ["general"]
    assert extension_values(procedure, Session, "bsa_m2")[0]["value"] == 1.7
    assert extension_values(procedure, Session, "operator") == ["OP-C01-1"]
    assert extension_values(drug, Session, "bolus_end_time") == ["09:05:00"]
    assert extension_values(drug, Session, "dose_per_m2")[0]["code"] == "[iU]/m2"
    assert extension_values(procedure, Session, "bolus_end_time") == []


# -- content ---------------------------------------------------------------------------


def test_patient_and_primary_cancer(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    alive = by_id(bundle, "Patient", "P1")
    dead = by_id(bundle, "Patient", "P2")
    centre = by_id(bundle, "Organization", "C02")
    primary = by_id(bundle, "Condition", "primary-P2")

    assert alive["gender"] == "female"
    assert alive["birthDate"] == "1950"
    assert "deceasedDateTime" not in alive
    assert dead["deceasedDateTime"] == "2020-09-01"
    assert extension_values(dead, Patient, "death_cause") == ["melanoma"]
    assert dead["managingOrganization"]["reference"] == reference_urn("Organization", "C02")
    assert centre["address"] == [{"country": "SI"}]
    assert primary["code"]["coding"] == [
        {"system": SNOMED, "code": "372244006", "display": "Malignant melanoma"}
    ]
    assert primary["stage"][0]["summary"] == {"text": "IV-M1c"}
    ecog = by_id(bundle, "Observation", "ecog-P2")
    assert ecog["code"]["coding"][0]["code"] == "89247-1"
    assert ecog["valueInteger"] == 2
    assert ecog["effectiveDateTime"] == "2020-04-21"


def test_primary_tumour_without_a_confident_code_is_text_only(dataset: Dataset) -> None:
    dataset.patients[1] = replace(dataset.patients[1], primary_tumour="kaposi")
    primary = by_id(dataset_to_bundle(dataset), "Condition", "primary-P2")
    assert primary["code"] == {"text": "kaposi"}


def test_lesion_is_a_secondary_skin_cancer_with_its_baseline_size(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    lesion = by_id(bundle, "Condition", "lesion-P1-L1")
    baseline = by_id(bundle, "Observation", "baseline-P1-L1")

    assert lesion["code"]["coding"][0]["code"] == "94579000"
    assert lesion["bodySite"] == [{"text": "lower_limb_left"}]
    assert extension_values(lesion, Lesion, "layer") == ["cutaneous"]
    assert lesion["extension"][0]["valueReference"]["reference"] == reference_urn(
        "Condition", "primary-P1"
    )
    assert baseline["focus"] == [
        {"reference": reference_urn("Condition", "lesion-P1-L1"), "type": "Condition"}
    ]
    assert baseline["effectiveDateTime"] == "2020-03-01"
    sizes = {c["code"]["text"]: c["valueQuantity"] for c in baseline["component"]}
    mm = {"unit": "mm", "system": UCUM, "code": "mm"}
    assert sizes == {
        "Longest diameter at baseline": {"value": 12.0, **mm},
        "Diameter perpendicular to the longest, at baseline": {"value": 9.5, **mm},
        "Depth of the deepest part below the skin surface": {"value": 4.0, **mm},
    }
    codes = [c["code"].get("coding", [{}])[0].get("code") for c in baseline["component"]]
    assert codes == ["33728-7", "33729-5", None]
    assert baseline["code"]["coding"][0] == {
        "system": LOINC,
        "code": "21889-1",
        "display": "Size Tumor",
    }


def test_session_procedure_drug_and_electrode_applications(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    session = by_id(bundle, "Procedure", "session-P1-S1")
    drug = by_id(bundle, "MedicationAdministration", "session-P1-S1")
    aborted = by_id(bundle, "Procedure", "application-P1-S1-A2")
    unknown = by_id(bundle, "Procedure", "application-P2-S1-A1")
    session_urn = reference_urn("Procedure", "session-P1-S1")

    assert session["code"] == {"text": "electrochemotherapy"}
    assert session["performedDateTime"] == "2020-03-02"
    assert [r["reference"] for r in session["reasonReference"]] == [
        reference_urn("Condition", "lesion-P1-L1"),
        reference_urn("Condition", "lesion-P1-L2"),
    ]
    assert drug["partOf"][0]["reference"] == session_urn
    assert drug["medicationCodeableConcept"]["coding"][0]["code"] == "L01DC01"
    assert drug["dosage"]["dose"] == {
        "value": 25500.0,
        "unit": "IU",
        "system": UCUM,
        "code": "[iU]",
    }
    assert drug["dosage"]["route"]["coding"][0]["code"] == "47625008"
    assert aborted["partOf"][0]["reference"] == session_urn
    assert aborted["status"] == "stopped"
    assert aborted["usedCode"] == [{"text": "hexagonal"}]
    assert extension_values(aborted, Application, "pulses") == [96]
    assert extension_values(aborted, Application, "time") == ["09:16:00"]
    assert unknown["status"] == "unknown"
    assert "extension" not in unknown


def test_cisplatin_dose_is_in_mg_and_intratumoural_route_is_text_only(dataset: Dataset) -> None:
    dataset.sessions[1] = replace(dataset.sessions[1], drug=Drug.CISPLATIN, dose=20.0)
    drug = by_id(dataset_to_bundle(dataset), "MedicationAdministration", "session-P2-S1")

    assert drug["dosage"]["dose"]["code"] == "mg"
    assert drug["dosage"]["route"] == {"text": Route.INTRATUMOURAL.value}
    assert drug["medicationCodeableConcept"]["coding"][0]["code"] == "L01XA01"


def test_unknown_dose_keeps_the_route_as_an_extension(dataset: Dataset) -> None:
    dataset.sessions[1] = replace(dataset.sessions[1], dose=None)
    bundle = dataset_to_bundle(dataset)
    drug = by_id(bundle, "MedicationAdministration", "session-P2-S1")

    assert "dosage" not in drug
    assert extension_values(drug, Session, "route") == ["intratumoural"]
    Bundle.model_validate(bundle)


def test_assessment_size_and_override_response(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    size = by_id(bundle, "Observation", "size-P1-L2-V1")
    response = by_id(bundle, "Observation", "response-P1-L2-V1")
    measured = by_id(bundle, "Observation", "size-P1-L1-V1")

    assert size["effectiveDateTime"] == "2020-05-01"
    assert [c["valueQuantity"]["value"] for c in size["component"]] == [30.0]
    assert response["valueCodeableConcept"] == {"text": "PR"}
    assert response["note"] == [{"text": "necrotic centre confirmed by ultrasound"}]
    assert response["derivedFrom"][0]["reference"] == reference_urn("Observation", "size-P1-L2-V1")
    assert response["focus"][0]["reference"] == reference_urn("Condition", "lesion-P1-L2")
    assert measured["method"] == {"text": "caliper"}
    assert extension_values(measured, Assessment, "assessor") == ["AS-1"]
    assert not any(r["id"] == "response-P1-L1-V1" for r in resources(bundle, "Observation"))


def test_adverse_event_patient_reported_and_systemic_therapy(dataset: Dataset) -> None:
    bundle = dataset_to_bundle(dataset)
    event = by_id(bundle, "AdverseEvent", "AE1")
    pain = by_id(bundle, "Observation", "pain-PR1")
    eq5d = by_id(bundle, "Observation", "eq5d-PR1")
    therapy = by_id(bundle, "MedicationStatement", "T1")

    assert event["event"] == {"text": "Pain"}
    assert event["date"] == "2020-03-03"
    assert event["seriousness"]["coding"][0]["code"] == "non-serious"
    assert extension_values(event, AdverseEvent, "grade") == [2]
    assert event["suspectEntity"][0]["instance"]["reference"] == reference_urn(
        "Procedure", "session-P1-S1"
    )
    assert pain["code"]["coding"][0] == {
        "system": LOINC,
        "code": "72514-3",
        "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    }
    assert pain["valueInteger"] == 5
    index = column_index(PatientReported)
    assert {c["code"]["text"]: c["valueInteger"] for c in eq5d["component"]} == {
        index["eq5d_mobility"].description: 1,
        index["eq5d_selfcare"].description: 1,
        index["eq5d_activity"].description: 2,
        index["eq5d_pain"].description: 2,
        index["eq5d_anxiety"].description: 1,
        index["eq_vas"].description: 70,
    }
    assert therapy["status"] == "active"
    assert therapy["effectivePeriod"] == {"start": "2020-02-01"}
    assert therapy["medicationCodeableConcept"] == {"text": "pembrolizumab"}
    assert extension_values(therapy, SystemicTherapy, "agent_class") == ["anti_pd1"]


# -- identifiers -----------------------------------------------------------------------


def test_safe_record_ids_are_kept_and_others_made_safe_and_distinct() -> None:
    assert fhir_id("P1-L1", "lesion-") == "lesion-P1-L1"
    made = {fhir_id(raw) for raw in ("a_b", "a:b", "a-b", "x" * 64, "x" * 63 + "y")}
    assert len(made) == 5
    for value in made:
        assert len(value) <= 64
        assert all(ch.isalnum() or ch in "-." for ch in value)


def test_full_urls_are_uuid5_of_type_and_id() -> None:
    assert reference_urn("Patient", "P1") == f"urn:uuid:{uuid.uuid5(URN_NAMESPACE, 'Patient/P1')}"


def test_unsafe_ids_still_give_a_valid_self_contained_bundle(dataset: Dataset) -> None:
    dataset.lesions[0] = replace(dataset.lesions[0], lesion_id="P1:L_1")
    dataset.applications[0] = replace(dataset.applications[0], lesion_id="P1:L_1")
    dataset.assessments[0] = replace(dataset.assessments[0], lesion_id="P1:L_1")
    dataset.assessments[1] = replace(dataset.assessments[1], lesion_id="P1:L_1")
    bundle = dataset_to_bundle(dataset)

    Bundle.model_validate(bundle)
    assert_self_contained(bundle)
    lesion = by_id(bundle, "Condition", fhir_id("P1:L_1", "lesion-"))
    assert lesion["identifier"][0]["value"] == "P1:L_1"


# -- files -----------------------------------------------------------------------------


def test_written_bundle_is_deterministic_sorted_utf8_json(dataset: Dataset, tmp_path: Path) -> None:
    dataset.centres[0] = replace(dataset.centres[0], name="Onkološki inštitut")
    first = write_bundle(dataset, tmp_path / "a.json").read_bytes()
    second = write_bundle(dataset, tmp_path / "b.json").read_bytes()
    lines = write_bundle(dataset, tmp_path / "c.json", indent=None).read_bytes()

    assert first == second
    assert "Onkološki inštitut".encode() in first
    assert first.startswith(b'{\n  "entry": [')
    assert json.loads(first) == json.loads(lines) == dataset_to_bundle(dataset)
    assert (
        first
        == (
            json.dumps(json.loads(first), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode()
    )
    assert len(lines.splitlines()) == len(json.loads(lines)["entry"]) + 2


def test_timestamp_is_optional_and_must_be_aware(dataset: Dataset) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert dataset_to_bundle(dataset, timestamp=when)["timestamp"] == "2026-01-02T03:04:05+00:00"
    assert "timestamp" not in dataset_to_bundle(dataset)
    with pytest.raises(ValueError, match="timezone-aware"):
        dataset_to_bundle(dataset, timestamp=dt.datetime(2026, 1, 2))


def test_the_schema_1_1_columns_are_extensions_and_the_bundle_stays_valid(
    dataset: Dataset,
) -> None:
    dataset.patients[0] = replace(
        dataset.patients[0],
        dlco_percent_predicted=78.5,
        dlco_date=dt.date(2020, 2, 20),
        chest_imaging_date=dt.date(2020, 2, 10),
    )
    dataset.sessions[0] = replace(
        dataset.sessions[0], pain_after_nrs=2, analgesia=["paracetamol_nsaid", "opioid"]
    )
    dataset.sessions[1] = replace(
        dataset.sessions[1], drug=Drug.CALCIUM_CHLORIDE, dose=4.5, pain_during_nrs=3
    )
    dataset.systemic_therapies[0] = replace(
        dataset.systemic_therapies[0], agent_class="ect_elsewhere", bleomycin_iu=27_000.0
    )
    bundle = dataset_to_bundle(dataset)
    Bundle.model_validate(bundle)
    assert_self_contained(bundle)

    patient = by_id(bundle, "Patient", "P1")
    assert extension_values(patient, Patient, "dlco_percent_predicted") == [
        {"value": 78.5, "unit": "%", "system": UCUM, "code": "%"}
    ]
    assert extension_values(patient, Patient, "dlco_date") == ["2020-02-20"]
    assert extension_values(patient, Patient, "chest_imaging_date") == ["2020-02-10"]
    procedure = by_id(bundle, "Procedure", "session-P1-S1")
    assert extension_values(procedure, Session, "pain_after_nrs") == [2]
    assert extension_values(procedure, Session, "pain_during_nrs") == []
    assert extension_values(procedure, Session, "analgesia") == ["paracetamol_nsaid", "opioid"]
    assert extension_values(
        by_id(bundle, "Procedure", "session-P2-S1"), Session, "pain_during_nrs"
    ) == [3]
    calcium = by_id(bundle, "MedicationAdministration", "session-P2-S1")
    assert calcium["medicationCodeableConcept"] == {"text": "calcium_chloride"}
    assert calcium["dosage"]["dose"] == {"value": 4.5, "unit": "mL", "system": UCUM, "code": "mL"}
    therapy = by_id(bundle, "MedicationStatement", "T1")
    assert extension_values(therapy, SystemicTherapy, "bleomycin_iu") == [
        {"value": 27_000.0, "unit": "IU", "system": UCUM, "code": "[iU]"}
    ]
    assert extension_values(therapy, SystemicTherapy, "agent_class") == ["ect_elsewhere"]
