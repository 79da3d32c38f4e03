"""FHIR R4 export of a dataset: one ``Bundle`` (type ``collection``) of mCODE-style resources.

The bundle is a projection of the canonical data model (``openect.data``), like the CSV
dataset and the CDISC ODM export (``openect.exchange.odm``):

- every record becomes the FHIR resource that represents it (a patient a ``Patient``, a
  lesion a ``Condition``, a session a ``Procedure`` plus a ``MedicationAdministration``,
  ...; the full map is in ``docs/exchange.md``);
- a column with a standard FHIR element is written there (``STANDARD_ELEMENTS``);
  **every other column becomes an extension** ``{EXTENSION_BASE}/{table}-{column}``
  whose value type and unit are derived from :mod:`openect.data.schema`, so a column
  added to the data model reaches the export without a change here;
- codes are real SNOMED CT, LOINC, UCUM or ATC codes only where listed in
  ``docs/exchange.md``; everything else is a text-only ``CodeableConcept``.

Identifiers: every resource has a deterministic, FHIR-safe id derived from its record
id (:func:`fhir_id`), a ``fullUrl`` ``urn:uuid:`` (UUID version 5 of ``Type/id``) and
every reference is that ``urn:uuid:``, so references resolve inside the bundle. The same
dataset always gives the same bundle (and :func:`write_bundle` the same bytes).

FHIR version: R4 (4.0.1). Tests validate the bundle with ``fhir.resources.R4B`` (FHIR
4.3, whose resources used here are the R4 ones); this module does not import it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from openect.data.dataset import Dataset, collection_paused
from openect.data.enums import Drug, PrimaryTumour, ResponseCategory, Route, Sex
from openect.data.models import (
    DOSE_UNIT,
    AdverseEvent,
    Application,
    Assessment,
    Centre,
    Lesion,
    Patient,
    PatientReported,
    Record,
    Session,
    SystemicTherapy,
)
from openect.data.schema import Column, column_index, columns

__all__ = [
    "EXTENSION_BASE",
    "IDENTIFIER_BASE",
    "LOINC",
    "OPENECT_FHIR_BASE",
    "SNOMED",
    "STANDARD_ELEMENTS",
    "UCUM",
    "UCUM_CODES",
    "URN_NAMESPACE",
    "dataset_to_bundle",
    "extension_columns",
    "extension_url",
    "fhir_id",
    "reference_urn",
    "write_bundle",
]

Json = dict[str, Any]

#: Base of the canonical URLs of OpenECT's own FHIR artefacts (extensions, identifier
#: systems). No StructureDefinitions are published there yet (``docs/exchange.md``).
OPENECT_FHIR_BASE = "https://openect.org/fhir"
#: Extension URLs are ``{EXTENSION_BASE}/{table}-{column}``.
EXTENSION_BASE = f"{OPENECT_FHIR_BASE}/StructureDefinition"
#: Identifier systems are ``{IDENTIFIER_BASE}/{table}``; the value is the record id.
IDENTIFIER_BASE = f"{OPENECT_FHIR_BASE}/NamingSystem"

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: Core extension linking a condition to another (mCODE's relatedPrimaryCancerCondition).
CONDITION_RELATED = "http://hl7.org/fhir/StructureDefinition/condition-related"

_MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILE_PATIENT = _MCODE + "mcode-cancer-patient"
PROFILE_PRIMARY_CANCER = _MCODE + "mcode-primary-cancer-condition"
PROFILE_SECONDARY_CANCER = _MCODE + "mcode-secondary-cancer-condition"
PROFILE_TUMOR_SIZE = _MCODE + "mcode-tumor-size"
PROFILE_ECOG = _MCODE + "mcode-ecog-performance-status"
PROFILE_MEDICATION_ADMINISTRATION = _MCODE + "mcode-cancer-related-medication-administration"

#: UCUM codes of the units of the data model (``Column.unit``). A unit missing here is
#: written as a Quantity with ``unit`` only (no system/code).
UCUM_CODES: dict[str, str] = {
    "mm": "mm",
    "cm": "cm",
    "kg": "kg",
    "m2": "m2",
    "mL/min": "mL/min",
    "V": "V",
    "A": "A",
    "Hz": "Hz",
    "us": "us",
    "IU": "[iU]",
    "mg": "mg",
    "IU/m2": "[iU]/m2",
    "mL": "mL",
    "%": "%",
}

# -- codes (only those we are sure of; see docs/exchange.md) ---------------------------
_PRIMARY_TUMOUR_SNOMED: dict[PrimaryTumour, tuple[str, str]] = {
    PrimaryTumour.MELANOMA: ("372244006", "Malignant melanoma"),
    PrimaryTumour.BREAST: ("254837009", "Malignant neoplasm of breast"),
}
_SECONDARY_SKIN_SNOMED = ("94579000", "Secondary malignant neoplasm of skin")
_ROUTE_SNOMED: dict[Route, tuple[str, str]] = {
    Route.INTRAVENOUS: ("47625008", "Intravenous route"),
}
_DRUG_ATC: dict[Drug, tuple[str, str]] = {
    Drug.BLEOMYCIN: ("L01DC01", "bleomycin"),
    Drug.CISPLATIN: ("L01XA01", "cisplatin"),
}
_GENDER: dict[Sex, str] = {Sex.F: "female", Sex.M: "male", Sex.X: "other"}
_LOINC_TUMOR_SIZE = ("21889-1", "Size Tumor")
_LOINC_LONGEST = ("33728-7", "Size.maximum dimension in Tumor")
_LOINC_ADDITIONAL = ("33729-5", "Size additional dimension in Tumor")
_LOINC_PAIN = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
_LOINC_ECOG = ("89247-1", "ECOG Performance Status score")

#: Columns written to a standard FHIR element, by entity (element path as documentation).
#: Every other column of a record is written as an extension (:func:`extension_columns`);
#: for ``patient_reported`` the other columns are the components of the EQ-5D observation.
STANDARD_ELEMENTS: dict[type[Record], dict[str, str]] = {
    Centre: {
        "centre_id": "Organization.id, Organization.identifier",
        "name": "Organization.name",
        "country": "Organization.address.country",
    },
    Patient: {
        "patient_id": "Patient.id, Patient.identifier",
        "centre_id": "Patient.managingOrganization",
        "sex": "Patient.gender",
        "birth_year": "Patient.birthDate (year only)",
        "primary_tumour": "Condition(primary cancer).code",
        "stage": "Condition(primary cancer).stage.summary.text",
        "ecog": "Observation(ECOG, LOINC 89247-1).valueInteger",
        "death_date": "Patient.deceasedDateTime",
    },
    Lesion: {
        "lesion_id": "Condition(lesion).id, .identifier",
        "patient_id": "Condition(lesion).subject",
        "body_site": "Condition(lesion).bodySite.text",
        "baseline_date": "Observation(baseline tumour size).effectiveDateTime",
        "longest_diameter_mm": "Observation(baseline tumour size).component (LOINC 33728-7)",
        "perpendicular_diameter_mm": "Observation(baseline tumour size).component (LOINC 33729-5)",
        "thickness_mm": "Observation(baseline tumour size).component (text)",
    },
    Session: {
        "session_id": "Procedure(session).id, MedicationAdministration.id, .identifier",
        "patient_id": "Procedure.subject, MedicationAdministration.subject",
        "session_date": "Procedure.performedDateTime, MedicationAdministration.effectiveDateTime",
        "drug": "MedicationAdministration.medicationCodeableConcept (ATC)",
        "route": "MedicationAdministration.dosage.route",
        "dose": "MedicationAdministration.dosage.dose ([iU] or mg)",
    },
    Application: {
        "application_id": "Procedure(application).id, .identifier",
        "session_id": "Procedure(application).partOf",
        "lesion_id": "Procedure(application).reasonReference",
        "electrode": "Procedure(application).usedCode.text",
        "complete": "Procedure(application).status (completed / stopped / unknown)",
    },
    Assessment: {
        "assessment_id": "Observation(tumour size).id, .identifier",
        "lesion_id": "Observation(tumour size).focus",
        "assessment_date": "Observation(tumour size).effectiveDateTime",
        "longest_diameter_mm": "Observation(tumour size).component (LOINC 33728-7)",
        "perpendicular_diameter_mm": "Observation(tumour size).component (LOINC 33729-5)",
        "method": "Observation(tumour size).method.text",
        "override_response": "Observation(tumour response).valueCodeableConcept.text",
        "override_reason": "Observation(tumour response).note.text",
    },
    AdverseEvent: {
        "event_id": "AdverseEvent.id, .identifier",
        "patient_id": "AdverseEvent.subject",
        "session_id": "AdverseEvent.suspectEntity.instance (session Procedure)",
        "onset_date": "AdverseEvent.date",
        "term": "AdverseEvent.event.text",
        "serious": "AdverseEvent.seriousness",
    },
    PatientReported: {
        "report_id": "Observation(pain, EQ-5D).identifier",
        "patient_id": "Observation.subject",
        "report_date": "Observation.effectiveDateTime",
        "pain_nrs": "Observation(pain, LOINC 72514-3).valueInteger",
    },
    SystemicTherapy: {
        "therapy_id": "MedicationStatement.id, .identifier",
        "patient_id": "MedicationStatement.subject",
        "agent": "MedicationStatement.medicationCodeableConcept.text",
        "start_date": "MedicationStatement.effectivePeriod.start",
        "end_date": "MedicationStatement.effectivePeriod.end, .status",
    },
}

#: Session columns that describe the drug: their extensions go on the
#: MedicationAdministration, the session's other extensions on the Procedure.
_SESSION_DRUG_COLUMNS = frozenset({"dose_per_m2", "bolus_end_time"})

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")
#: Namespace of the UUID version 5 fullUrls (``reference_urn``).
URN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, OPENECT_FHIR_BASE)
_URN_NAMESPACE_BYTES = URN_NAMESPACE.bytes


def fhir_id(record_id: str, prefix: str = "") -> str:
    """A FHIR resource id (``[A-Za-z0-9-.]{1,64}``) for ``prefix + record_id``.

    Ids that are already FHIR-safe are kept as they are; others (``_`` or ``:`` in
    them, longer than 64 characters) have the unsafe characters replaced by ``-`` and a
    hash of the original appended, so distinct record ids stay distinct.
    """
    raw = prefix + record_id
    if _FHIR_ID.fullmatch(raw):
        return raw
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    return f"{_UNSAFE.sub('-', raw)[: 64 - 13]}-{digest}"


def reference_urn(resource_type: str, resource_id: str) -> str:
    """The ``urn:uuid:`` fullUrl of a resource: UUID version 5 of ``Type/id``.

    Same result as ``uuid.uuid5(namespace, "Type/id")``, computed without building
    ``UUID`` objects (a bundle has one per resource and several per reference).
    """
    name = f"{resource_type}/{resource_id}".encode()
    digest = bytearray(hashlib.sha1(_URN_NAMESPACE_BYTES + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def extension_url(model: type[Record], column: str) -> str:
    """URL of the extension that carries ``column`` of ``model``."""
    return f"{EXTENSION_BASE}/{model.table}-{column}"


@cache
def extension_columns(model: type[Record]) -> tuple[str, ...]:
    """Columns of ``model`` without a standard FHIR element, in data-model order."""
    standard = STANDARD_ELEMENTS[model]
    return tuple(c.name for c in columns(model) if c.name not in standard)


def dataset_to_bundle(dataset: Dataset, *, timestamp: dt.datetime | None = None) -> Json:
    """The FHIR R4 ``Bundle`` (type ``collection``) of every record of ``dataset``.

    ``timestamp`` (timezone-aware) becomes ``Bundle.timestamp``; without it the bundle
    has none, so the same dataset always gives the same bundle. Synthetic datasets are
    labelled with the security label ``HTEST`` (test health data).
    """
    if timestamp is not None and timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware (FHIR instant)")
    bundle: Json = {"resourceType": "Bundle", "type": "collection"}
    if dataset.info.synthetic:
        bundle["meta"] = {
            "security": [{"system": ACT_REASON, "code": "HTEST", "display": "test health data"}]
        }
    if timestamp is not None:
        bundle["timestamp"] = timestamp.isoformat()
    with collection_paused():  # millions of small acyclic dicts: collections only cost time
        builder = _Builder(dataset)
        bundle["entry"] = [
            {"fullUrl": builder.urn(r["resourceType"], r["id"]), "resource": r}
            for r in builder.build()
        ]
    return bundle


def write_bundle(
    dataset: Dataset,
    path: str | os.PathLike[str],
    *,
    timestamp: dt.datetime | None = None,
    indent: int | None = 2,
) -> Path:
    """Write the bundle of ``dataset`` as JSON (UTF-8, sorted keys) and return the path.

    ``indent=2`` (default) pretty-prints the whole bundle; ``indent=None`` writes one
    bundle entry per line, about five times faster and half the size for large
    exports. The same dataset (and ``timestamp``) always gives the same bytes.
    """
    bundle = dataset_to_bundle(dataset, timestamp=timestamp)
    options: Json = {"sort_keys": True, "ensure_ascii": False, "allow_nan": False}
    if indent is not None:
        text = json.dumps(bundle, indent=indent, **options)
    else:
        encode = json.JSONEncoder(separators=(",", ":"), **options).encode
        parts = ['{"entry":[\n', ",\n".join(encode(entry) for entry in bundle["entry"]), "\n]"]
        parts.extend(
            f",{encode(key)}:{encode(bundle[key])}" for key in sorted(bundle) if key != "entry"
        )
        text = "".join(parts) + "}"
    target = Path(path)
    target.write_bytes((text + "\n").encode("utf-8"))
    return target


# -- building blocks -------------------------------------------------------------------


def _identifier(record: Record) -> Json:
    return {"system": f"{IDENTIFIER_BASE}/{record.table}", "value": record.id}


def _coding(system: str, code: tuple[str, str]) -> Json:
    return {"system": system, "code": code[0], "display": code[1]}


def _concept(text: str, system: str | None = None, code: tuple[str, str] | None = None) -> Json:
    if system is None or code is None:
        return {"text": text}
    return {"coding": [_coding(system, code)], "text": text}


def _category(code: str, display: str) -> list[Json]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}]


def _quantity(value: float, unit: str) -> Json:
    quantity: Json = {"value": value, "unit": unit}
    code = UCUM_CODES.get(unit)
    if code is not None:
        quantity["system"] = UCUM
        quantity["code"] = code
    return quantity


def _time(value: dt.time) -> str:
    return value.isoformat() if value.microsecond else value.isoformat(timespec="seconds")


def _doc(obj: object) -> str:
    return (obj.__doc__ or "").strip().splitlines()[0].rstrip(".")


def _typed_value(column: Column, value: Any, *, component: bool = False) -> Json:
    """``value[x]`` of an extension (or an Observation component) for one cell."""
    kind = column.kind
    if kind == "bool":
        return {"valueBoolean": value}
    if kind == "int":
        return {"valueInteger": value}
    if kind == "float":
        if column.unit is not None:
            return {"valueQuantity": _quantity(value, column.unit)}
        return {"valueQuantity": {"value": value}} if component else {"valueDecimal": value}
    if kind == "date":
        return {"valueDateTime" if component else "valueDate": value.isoformat()}
    if kind == "time":
        return {"valueTime": _time(value)}
    if kind == "enum":
        return (
            {"valueCodeableConcept": {"text": value.value}}
            if component
            else {"valueCode": value.value}
        )
    return {"valueString": str(value)}


def _extensions(record: Record, names: Iterable[str]) -> list[Json]:
    """Extensions for the cells ``names`` of ``record`` (empty cells are left out)."""
    model = type(record)
    index = column_index(model)
    out: list[Json] = []
    for name in names:
        value = getattr(record, name)
        if value is None:
            continue
        url = extension_url(model, name)
        column = index[name]
        if column.kind == "list":
            out.extend({"url": url, "valueCode": item.value} for item in value)
        else:
            out.append({"url": url, **_typed_value(column, value)})
    return out


def _with_extensions(resource: Json, extensions: list[Json]) -> Json:
    if extensions:
        resource["extension"] = extensions
    return resource


def _size_components(record: Lesion | Assessment) -> list[Json]:
    """Tumour-size components: longest (33728-7), perpendicular (33729-5), thickness."""
    index = column_index(type(record))
    codes = {"longest_diameter_mm": _LOINC_LONGEST, "perpendicular_diameter_mm": _LOINC_ADDITIONAL}
    out: list[Json] = []
    for name in ("longest_diameter_mm", "perpendicular_diameter_mm", "thickness_mm"):
        if name not in index:
            continue
        value = getattr(record, name)
        if value is None:
            continue
        column = index[name]
        code = codes.get(name)
        concept = (
            _concept(column.description or name, LOINC, code)
            if code is not None
            else _concept(column.description or name)
        )
        out.append({"code": concept, **_typed_value(column, value, component=True)})
    return out


class _Builder:
    """Turns one dataset into the list of resources of its bundle."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.sessions = {s.session_id: s for s in dataset.sessions}
        self.lesion_patient = {x.lesion_id: x.patient_id for x in dataset.lesions}
        self.first_session: dict[str, dt.date] = {}
        for session in dataset.sessions:
            known = self.first_session.get(session.patient_id)
            if known is None or session.session_date < known:
                self.first_session[session.patient_id] = session.session_date
        self.session_lesions: dict[str, dict[str, None]] = {}
        for application in dataset.applications:
            lesions = self.session_lesions.setdefault(application.session_id, {})
            lesions[application.lesion_id] = None
        self.resources: list[Json] = []
        self.urns: dict[tuple[str, str], str] = {}

    def urn(self, resource_type: str, resource_id: str) -> str:
        """``reference_urn``, remembered: most resources are referenced many times."""
        key = (resource_type, resource_id)
        urn = self.urns.get(key)
        if urn is None:
            urn = self.urns[key] = reference_urn(resource_type, resource_id)
        return urn

    def ref(self, resource_type: str, resource_id: str) -> Json:
        """A reference to a resource of the bundle."""
        return {"reference": self.urn(resource_type, resource_id), "type": resource_type}

    def build(self) -> list[Json]:
        ds = self.dataset
        for centre in ds.centres:
            self.resources.append(self.organization(centre))
        for patient in ds.patients:
            self.patient(patient)
        for lesion in ds.lesions:
            self.lesion(lesion)
        for session in ds.sessions:
            self.session(session)
        for application in ds.applications:
            self.resources.append(self.application(application))
        for assessment in ds.assessments:
            self.assessment(assessment)
        for event in ds.adverse_events:
            self.resources.append(self.adverse_event(event))
        for report in ds.patient_reported:
            self.patient_reported(report)
        for therapy in ds.systemic_therapies:
            self.resources.append(self.systemic_therapy(therapy))
        return self.resources

    # references to the resources of a record
    def patient_ref(self, patient_id: str) -> Json:
        return self.ref("Patient", fhir_id(patient_id))

    def primary_ref(self, patient_id: str) -> Json:
        return self.ref("Condition", fhir_id(patient_id, "primary-"))

    def lesion_ref(self, lesion_id: str) -> Json:
        return self.ref("Condition", fhir_id(lesion_id, "lesion-"))

    def session_ref(self, session_id: str) -> Json:
        return self.ref("Procedure", fhir_id(session_id, "session-"))

    def organization(self, centre: Centre) -> Json:
        resource: Json = {
            "resourceType": "Organization",
            "id": fhir_id(centre.centre_id),
            "identifier": [_identifier(centre)],
            "name": centre.name,
        }
        if centre.country is not None:
            resource["address"] = [{"country": centre.country}]
        return _with_extensions(resource, _extensions(centre, extension_columns(Centre)))

    def patient(self, patient: Patient) -> None:
        pid = fhir_id(patient.patient_id)
        resource: Json = {
            "resourceType": "Patient",
            "id": pid,
            "meta": {"profile": [PROFILE_PATIENT]},
            "identifier": [_identifier(patient)],
            "gender": _GENDER[patient.sex],
            "birthDate": f"{patient.birth_year:04d}",
            "managingOrganization": self.ref("Organization", fhir_id(patient.centre_id)),
        }
        if patient.death_date is not None:
            resource["deceasedDateTime"] = patient.death_date.isoformat()
        self.resources.append(
            _with_extensions(resource, _extensions(patient, extension_columns(Patient)))
        )

        tumour = patient.primary_tumour
        condition: Json = {
            "resourceType": "Condition",
            "id": fhir_id(patient.patient_id, "primary-"),
            "meta": {"profile": [PROFILE_PRIMARY_CANCER]},
            "code": _concept(tumour.value, SNOMED, _PRIMARY_TUMOUR_SNOMED.get(tumour)),
            "subject": self.patient_ref(patient.patient_id),
        }
        if patient.stage is not None:
            stage_type = column_index(Patient)["stage"].description or "stage"
            condition["stage"] = [
                {"summary": {"text": patient.stage}, "type": {"text": stage_type}}
            ]
        self.resources.append(condition)

        if patient.ecog is not None:
            ecog: Json = {
                "resourceType": "Observation",
                "id": fhir_id(patient.patient_id, "ecog-"),
                "meta": {"profile": [PROFILE_ECOG]},
                "status": "final",
                "category": _category("survey", "Survey"),
                "code": _concept(_LOINC_ECOG[1], LOINC, _LOINC_ECOG),
                "subject": self.patient_ref(patient.patient_id),
                "valueInteger": patient.ecog,
            }
            first = self.first_session.get(patient.patient_id)
            if first is not None:
                ecog["effectiveDateTime"] = first.isoformat()
            self.resources.append(ecog)

    def lesion(self, lesion: Lesion) -> None:
        lid = fhir_id(lesion.lesion_id, "lesion-")
        related = {"url": CONDITION_RELATED, "valueReference": self.primary_ref(lesion.patient_id)}
        condition: Json = {
            "resourceType": "Condition",
            "id": lid,
            "meta": {"profile": [PROFILE_SECONDARY_CANCER]},
            "extension": [related, *_extensions(lesion, extension_columns(Lesion))],
            "identifier": [_identifier(lesion)],
            "code": _concept(_SECONDARY_SKIN_SNOMED[1], SNOMED, _SECONDARY_SKIN_SNOMED),
            "bodySite": [{"text": lesion.body_site.value}],
            "subject": self.patient_ref(lesion.patient_id),
        }
        self.resources.append(condition)
        self.resources.append(
            {
                "resourceType": "Observation",
                "id": fhir_id(lesion.lesion_id, "baseline-"),
                "meta": {"profile": [PROFILE_TUMOR_SIZE]},
                "status": "final",
                "category": _category("exam", "Exam"),
                "code": _concept("Tumour size at baseline", LOINC, _LOINC_TUMOR_SIZE),
                "subject": self.patient_ref(lesion.patient_id),
                "focus": [self.lesion_ref(lesion.lesion_id)],
                "effectiveDateTime": lesion.baseline_date.isoformat(),
                "component": _size_components(lesion),
            }
        )

    def session(self, session: Session) -> None:
        leftover = extension_columns(Session)
        procedure: Json = {
            "resourceType": "Procedure",
            "id": fhir_id(session.session_id, "session-"),
            "identifier": [_identifier(session)],
            "status": "completed",
            "code": {"text": "electrochemotherapy"},
            "subject": self.patient_ref(session.patient_id),
            "performedDateTime": session.session_date.isoformat(),
        }
        lesions = self.session_lesions.get(session.session_id, {})
        if lesions:
            procedure["reasonReference"] = [self.lesion_ref(x) for x in lesions]
        procedure_columns = [c for c in leftover if c not in _SESSION_DRUG_COLUMNS]
        self.resources.append(_with_extensions(procedure, _extensions(session, procedure_columns)))

        drug_columns = [c for c in leftover if c in _SESSION_DRUG_COLUMNS]
        route = _concept(session.route.value, SNOMED, _ROUTE_SNOMED.get(session.route))
        administration: Json = {
            "resourceType": "MedicationAdministration",
            "id": fhir_id(session.session_id, "session-"),
            "meta": {"profile": [PROFILE_MEDICATION_ADMINISTRATION]},
            "identifier": [_identifier(session)],
            "partOf": [self.session_ref(session.session_id)],
            "status": "completed",
            "medicationCodeableConcept": _concept(
                session.drug.value, ATC, _DRUG_ATC.get(session.drug)
            ),
            "subject": self.patient_ref(session.patient_id),
            "effectiveDateTime": session.session_date.isoformat(),
            "reasonReference": [self.primary_ref(session.patient_id)],
        }
        if session.dose is not None:
            dose = _quantity(session.dose, DOSE_UNIT[session.drug])
            administration["dosage"] = {"route": route, "dose": dose}
        else:  # a dosage needs a dose (mad-1): keep the route as an extension
            drug_columns.insert(0, "route")
        self.resources.append(_with_extensions(administration, _extensions(session, drug_columns)))

    def application(self, application: Application) -> Json:
        session = self.sessions[application.session_id]
        status = {True: "completed", False: "stopped", None: "unknown"}[application.complete]
        resource: Json = {
            "resourceType": "Procedure",
            "id": fhir_id(application.application_id, "application-"),
            "identifier": [_identifier(application)],
            "partOf": [self.session_ref(application.session_id)],
            "status": status,
            "code": {"text": _doc(Application)},
            "subject": self.patient_ref(session.patient_id),
            "performedDateTime": session.session_date.isoformat(),
            "reasonReference": [self.lesion_ref(application.lesion_id)],
            "usedCode": [{"text": application.electrode}],
        }
        return _with_extensions(resource, _extensions(application, extension_columns(Application)))

    def assessment(self, assessment: Assessment) -> None:
        patient_id = self.lesion_patient[assessment.lesion_id]
        size_id = fhir_id(assessment.assessment_id, "size-")
        size: Json = {
            "resourceType": "Observation",
            "id": size_id,
            "meta": {"profile": [PROFILE_TUMOR_SIZE]},
            "identifier": [_identifier(assessment)],
            "status": "final",
            "category": _category("exam", "Exam"),
            "code": _concept("Tumour size at follow-up", LOINC, _LOINC_TUMOR_SIZE),
            "subject": self.patient_ref(patient_id),
            "focus": [self.lesion_ref(assessment.lesion_id)],
            "effectiveDateTime": assessment.assessment_date.isoformat(),
            "component": _size_components(assessment),
        }
        if assessment.method is not None:
            size["method"] = {"text": assessment.method.value}
        self.resources.append(
            _with_extensions(size, _extensions(assessment, extension_columns(Assessment)))
        )
        if assessment.override_response is None:
            return
        response: Json = {
            "resourceType": "Observation",
            "id": fhir_id(assessment.assessment_id, "response-"),
            "status": "final",
            "code": {"text": f"{_doc(ResponseCategory)}: assessor override"},
            "subject": self.patient_ref(patient_id),
            "focus": [self.lesion_ref(assessment.lesion_id)],
            "effectiveDateTime": assessment.assessment_date.isoformat(),
            "derivedFrom": [self.ref("Observation", size_id)],
            "valueCodeableConcept": {"text": assessment.override_response.value},
        }
        if assessment.override_reason is not None:
            response["note"] = [{"text": assessment.override_reason}]
        self.resources.append(response)

    def adverse_event(self, event: AdverseEvent) -> Json:
        resource: Json = {
            "resourceType": "AdverseEvent",
            "id": fhir_id(event.event_id),
            "identifier": _identifier(event),
            "actuality": "actual",
            "event": {"text": event.term},
            "subject": self.patient_ref(event.patient_id),
            "date": event.onset_date.isoformat(),
        }
        if event.serious is not None:
            code = ("serious", "Serious") if event.serious else ("non-serious", "Non-serious")
            resource["seriousness"] = {"coding": [_coding(AE_SERIOUSNESS, code)]}
        if event.session_id is not None:
            resource["suspectEntity"] = [{"instance": self.session_ref(event.session_id)}]
        return _with_extensions(resource, _extensions(event, extension_columns(AdverseEvent)))

    def patient_reported(self, report: PatientReported) -> None:
        common: Json = {
            "identifier": [_identifier(report)],
            "status": "final",
            "category": _category("survey", "Survey"),
            "subject": self.patient_ref(report.patient_id),
            "effectiveDateTime": report.report_date.isoformat(),
        }
        if report.pain_nrs is not None:
            self.resources.append(
                {
                    "resourceType": "Observation",
                    "id": fhir_id(report.report_id, "pain-"),
                    **common,
                    "code": _concept(_LOINC_PAIN[1], LOINC, _LOINC_PAIN),
                    "valueInteger": report.pain_nrs,
                }
            )
        index = column_index(PatientReported)
        components = [
            {
                "code": {"text": index[name].description or name},
                **_typed_value(index[name], getattr(report, name), component=True),
            }
            for name in extension_columns(PatientReported)
            if getattr(report, name) is not None
        ]
        if components:
            self.resources.append(
                {
                    "resourceType": "Observation",
                    "id": fhir_id(report.report_id, "eq5d-"),
                    **common,
                    "code": {"text": "EQ-5D-3L and EQ VAS"},
                    "component": components,
                }
            )

    def systemic_therapy(self, therapy: SystemicTherapy) -> Json:
        period: Json = {"start": therapy.start_date.isoformat()}
        if therapy.end_date is not None:
            period["end"] = therapy.end_date.isoformat()
        resource: Json = {
            "resourceType": "MedicationStatement",
            "id": fhir_id(therapy.therapy_id),
            "identifier": [_identifier(therapy)],
            "status": "completed" if therapy.end_date is not None else "active",
            "medicationCodeableConcept": {"text": therapy.agent or therapy.agent_class.value},
            "subject": self.patient_ref(therapy.patient_id),
            "effectivePeriod": period,
            "reasonReference": [self.primary_ref(therapy.patient_id)],
        }
        return _with_extensions(resource, _extensions(therapy, extension_columns(SystemicTherapy)))
