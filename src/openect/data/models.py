"""Canonical entities of OpenECT (one model per file of the interchange dataset).

These pydantic models are the single field list of the project: the CSV dataset, the
registry tables, the API schemas and the FHIR / CDISC ODM exports are derived from
them. Field names are the CSV column names and field order is the column order.

Units: lengths in millimetres (mm), bleomycin doses in international units (IU),
cisplatin doses in milligrams (mg), calcium chloride doses in millilitres (mL) of the
220 mM solution, voltages in volts (V), currents in amperes (A), pulse durations in
microseconds (us), frequencies in hertz (Hz).

Each field carries its unit (``unit``) and, for references to another entity,
the referenced table (``references``) in its ``json_schema_extra``; a column added after
schema 1.0 carries the version that added it (``since``): a dataset of an earlier 1.x
version may leave it out (its cells are then empty).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic.config import JsonDict

from openect.data.enums import (
    AJCC_STAGES,
    AgentClass,
    Anaesthesia,
    Analgesia,
    AssessmentMethod,
    BodySite,
    BrafStatus,
    DeathCause,
    Drug,
    Layer,
    PrimaryTumour,
    ResponseCategory,
    Route,
    Sex,
    Symptom,
)
from openect.settings import get_settings

#: Identifiers: a letter or digit, then letters, digits and ``. _ : -``; at most 64.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
#: Electrode catalogue id, optionally followed by ``:DEVICE-CODE`` (e.g. ``linear:N-10-4B``).
ELECTRODE_PATTERN = r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9._-]+)?$"

#: Largest plausible total dose per session, by drug (IU bleomycin, mg cisplatin, mL of
#: 220 mM calcium chloride). Calcium electroporation injects about 0.5 mL of the 220 mM
#: solution per cm3 of tumour (Falk et al., Acta Oncol 2018;57:311-319); 500 mL is a generous
#: ceiling that only catches typing errors (e.g. a dose in mg or mmol).
MAX_SESSION_DOSE: dict[Drug, float] = {
    Drug.BLEOMYCIN: 100_000.0,
    Drug.CISPLATIN: 200.0,
    Drug.CALCIUM_CHLORIDE: 500.0,
}
DOSE_UNIT: dict[Drug, str] = {
    Drug.BLEOMYCIN: "IU",
    Drug.CISPLATIN: "mg",
    Drug.CALCIUM_CHLORIDE: "mL",
}
#: Drugs that ECT gives intratumourally only (an intravenous session is refused).
INTRATUMOURAL_ONLY: frozenset[Drug] = frozenset({Drug.CALCIUM_CHLORIDE})
#: Largest cumulative bleomycin of one systemic therapy line (IU); lifetime doses of
#: concern are about 400,000 IU (pulmonary toxicity), so 2,000,000 only catches typing
#: errors.
MAX_THERAPY_BLEOMYCIN_IU = 2_000_000
#: Version of the dataset schema that added the columns of the clinical-safety review.
SCHEMA_1_1 = "1.1"
#: Version of the dataset schema that added the patients' numbers within their centre.
SCHEMA_1_2 = "1.2"
#: Version of the dataset schema that added each intratumoural application's own injection
#: time, each centre's time zone, and an assessment's note and new lesion in the field.
SCHEMA_1_3 = "1.3"
#: Digits of the number in a patient's label (``C01-0042``; more when the number needs them).
LABEL_DIGITS = 4


def patient_label(centre_id: str, patient_number: int | None) -> str | None:
    """A patient's short label for people, ``<centre>-<number>`` (``C01-0042``), or None
    without a number. The pseudonym (``patient_id``) stays the patient's key."""
    if patient_number is None:
        return None
    return f"{centre_id}-{patient_number:0{LABEL_DIGITS}d}"


def _local_time(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("a time zone is not allowed; give the local time of day HH:MM[:SS]")
    return value


#: A time of day without a time zone (the centre's local time).
LocalTime = Annotated[dt.time, AfterValidator(_local_time)]


class Today(NamedTuple):
    """The registry's today: the date in its time zone (setting ``time_zone``)."""

    date: dt.date
    zone: str


#: The time zone of the centre whose records are being entered (None: the registry's),
#: set for one request or command by :func:`centre_time_zone`.
_CENTRE_ZONE: ContextVar[str | None] = ContextVar("openect_centre_time_zone", default=None)


@contextmanager
def centre_time_zone(zone: str | None) -> Iterator[None]:
    """Within the block, "today" (:func:`registry_today`) is today in ``zone``, the
    time zone of the centre whose records are entered (None: the registry's)."""
    token = _CENTRE_ZONE.set(zone)
    try:
        yield
    finally:
        _CENTRE_ZONE.reset(token)


def registry_today() -> Today:
    """Today's date in the time zone of the centre whose records are entered (see
    :func:`centre_time_zone`), else in the registry's (``openect.settings``'
    ``time_zone``)."""
    zone = _CENTRE_ZONE.get() or get_settings().time_zone
    return Today(dt.datetime.now(zoneinfo.ZoneInfo(zone)).date(), zone)


def _iana_zone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "unknown time zone; allowed an IANA time zone name such as Europe/Ljubljana or UTC"
        ) from None
    return value


#: Validation context of records read back from the registry, which were checked when
#: they were written: a date is not judged again against a later today (another time
#: zone, a clock set back), nor an electrode against a later catalogue, so that a stored
#: record always stays readable.
AS_STORED: dict[str, Any] = {"today": None, "stored": True}

#: Electrode kinds of the catalogue (``openect.protocol.electrodes.Electrode``; a test
#: keeps the two equal). An application's electrode is one of them, optionally with the
#: device code after ":" (``linear:N-10-4B``).
ELECTRODE_KINDS = ("plate", "linear", "hexagonal", "finger")


def _in_catalogue(value: str, info: ValidationInfo) -> str:
    context = info.context
    if isinstance(context, Mapping) and context.get("stored"):
        return value
    kind = value.partition(":")[0]
    if kind not in ELECTRODE_KINDS:
        raise ValueError(
            f"electrode {kind!r} is not in the electrode catalogue; allowed: "
            f"{', '.join(ELECTRODE_KINDS[:-1])} or {ELECTRODE_KINDS[-1]}, optionally with "
            "the device code after ':' (linear:N-10-4B)"
        )
    return value


def _today(info: ValidationInfo) -> Today | None:
    """The today a record is checked against: the context's ``today`` (None: not
    checked), else the registry's."""
    context = info.context
    if isinstance(context, Mapping) and "today" in context:
        given = context["today"]
        assert given is None or isinstance(given, Today)
        return given
    return registry_today()


def _words(name: str | None) -> str:
    return (name or "date").replace("_", " ")


def _not_in_future(value: dt.date, info: ValidationInfo) -> dt.date:
    today = _today(info)
    if today is not None and value > today.date:
        raise ValueError(
            f"{_words(info.field_name)} {value.isoformat()} is in the future; allowed: up to "
            f"{today.date.isoformat()} (today, {today.zone})"
        )
    return value


def _year_not_in_future(value: int, info: ValidationInfo) -> int:
    today = _today(info)
    if today is not None and value > today.date.year:
        raise ValueError(
            f"{_words(info.field_name)} {value} is in the future; allowed: up to "
            f"{today.date.year} (this year, {today.zone})"
        )
    return value


#: The date of something that happened (an examination, a session, a visit, an event):
#: not after the registry's today (:func:`registry_today`).
PastDate = Annotated[dt.date, AfterValidator(_not_in_future)]
#: A year of birth: not after the registry's current year.
BirthYear = Annotated[int, AfterValidator(_year_not_in_future)]

#: The checks of :data:`PastDate` and :data:`BirthYear` (``openect.data.schema`` marks
#: their columns "not after today").
NOT_IN_FUTURE_CHECKS = (_not_in_future, _year_not_in_future)


def _id(description: str) -> Any:
    return Field(pattern=ID_PATTERN, description=description)


def _ref(table: str, description: str, *, required: bool = True) -> Any:
    extra: JsonDict = {"references": table}
    if required:
        return Field(pattern=ID_PATTERN, description=description, json_schema_extra=extra)
    return Field(None, pattern=ID_PATTERN, description=description, json_schema_extra=extra)


def _quantity(
    unit: str,
    description: str,
    *,
    required: bool = False,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    since: str | None = None,
) -> Any:
    extra: JsonDict = {"unit": unit}
    if since is not None:
        extra["since"] = since
    default: Any = ... if required else None
    return Field(default, description=description, json_schema_extra=extra, gt=gt, ge=ge, le=le)


def _since(version: str) -> JsonDict:
    """``json_schema_extra`` of a column added in schema ``version`` (optional in older files)."""
    return {"since": version}


def _not_before_birth(value: dt.date | None, info: ValidationInfo) -> dt.date | None:
    birth_year = info.data.get("birth_year")
    if value is not None and birth_year is not None and value.year < birth_year:
        raise ValueError(
            f"{_words(info.field_name)} {value.isoformat()} is before the year of birth "
            f"{birth_year}; allowed: from {birth_year}-01-01"
        )
    return value


class Record(BaseModel):
    """Base of every entity: immutable, no unknown fields, finite numbers only."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, use_enum_values=False
    )

    #: File stem of the entity in the dataset (``patients`` -> ``patients.csv``).
    table: ClassVar[str]
    #: Name of the identifier field (always the first field).
    id_field: ClassVar[str]
    #: The reference column a new record's identifier is numbered under
    #: (``<that value>-<id_prefix><n>``, e.g. ``P1-L2``), or None (centres: chosen).
    id_parent: ClassVar[str | None] = None
    #: Letters between the parent's identifier and the number (``L`` for lesions).
    id_prefix: ClassVar[str] = ""

    @property
    def id(self) -> str:
        """Identifier of this record."""
        value = getattr(self, self.id_field)
        assert isinstance(value, str)
        return value


class Centre(Record):
    """A treating centre of the register."""

    table: ClassVar[str] = "centres"
    id_field: ClassVar[str] = "centre_id"

    centre_id: str = _id("Centre identifier")
    name: str = Field(min_length=1, max_length=200, description="Centre name")
    country: str | None = Field(
        None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code"
    )
    time_zone: Annotated[str | None, AfterValidator(_iana_zone)] = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$",
        description="IANA time zone of the centre (e.g. Europe/Ljubljana): its clock times "
        "and its today; empty: the registry's setting time_zone",
        json_schema_extra=_since(SCHEMA_1_3),
    )


class Patient(Record):
    """A patient treated with ECT (pseudonymised; year of birth only)."""

    table: ClassVar[str] = "patients"
    id_field: ClassVar[str] = "patient_id"
    id_parent: ClassVar[str | None] = "centre_id"
    id_prefix: ClassVar[str] = "P"

    patient_id: str = _id("Pseudonym; never a hospital number or a name")
    centre_id: str = _ref("centres", "Treating centre")
    sex: Sex
    birth_year: BirthYear = Field(ge=1900, le=2100, description="Year of birth")
    primary_tumour: PrimaryTumour
    stage: str | None = Field(
        None,
        description="AJCC 8th edition stage group at first ECT",
        json_schema_extra={"allowed": "one of " + ", ".join(AJCC_STAGES)},
    )
    braf_status: BrafStatus | None = None
    ecog: int | None = Field(None, ge=0, le=4, description="ECOG performance status at first ECT")
    visceral_metastases: bool | None = Field(None, description="Visceral metastases at first ECT")
    last_contact_date: PastDate | None = None
    death_date: PastDate | None = None
    death_cause: DeathCause | None = Field(None, description="Empty while the patient is alive")
    dlco_percent_predicted: float | None = _quantity(
        "%",
        "Baseline lung function before bleomycin: diffusing capacity of the lung for carbon "
        "monoxide (DLCO), % of the predicted value (pulmonary function test report)",
        gt=0,
        le=200,
        since=SCHEMA_1_1,
    )
    dlco_date: PastDate | None = Field(
        None,
        description="Date of the DLCO measurement (pulmonary function test report)",
        json_schema_extra=_since(SCHEMA_1_1),
    )
    chest_imaging_date: PastDate | None = Field(
        None,
        description="Date of the last chest X-ray or CT (radiology report)",
        json_schema_extra=_since(SCHEMA_1_1),
    )
    patient_number: int | None = Field(
        None,
        ge=1,
        le=999_999,
        description="Number of the patient within the centre (1, 2, ... in order of "
        "registration; unique within the centre); with the centre it makes the short "
        "label C01-0042 that people use to tell patients apart. Numbered by the registry "
        "when empty",
        json_schema_extra=_since(SCHEMA_1_2),
    )

    @property
    def label(self) -> str | None:
        """The short label ``C01-0042`` (:func:`patient_label`), None without a number."""
        return patient_label(self.centre_id, self.patient_number)

    @field_validator("stage")
    @classmethod
    def _stage_known(cls, value: str | None) -> str | None:
        if value is not None and value not in AJCC_STAGES:
            raise ValueError(f"not an AJCC stage group; allowed: {', '.join(AJCC_STAGES)}")
        return value

    @field_validator("death_date")
    @classmethod
    def _death_after_birth(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        last_contact = info.data.get("last_contact_date")
        _not_before_birth(value, info)
        if value is not None and last_contact is not None and value < last_contact:
            raise ValueError(f"before last_contact_date {last_contact.isoformat()}")
        return value

    @field_validator("last_contact_date", "dlco_date", "chest_imaging_date")
    @classmethod
    def _examined_after_birth(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        return _not_before_birth(value, info)

    @field_validator("death_cause")
    @classmethod
    def _cause_needs_death(
        cls, value: DeathCause | None, info: ValidationInfo
    ) -> DeathCause | None:
        # A death_date that failed its own validation is absent: report it only once.
        if value is not None and "death_date" in info.data and info.data["death_date"] is None:
            raise ValueError("given without a death_date; leave empty while alive")
        return value


class Lesion(Record):
    """One treated cutaneous or subcutaneous metastasis, measured at baseline."""

    table: ClassVar[str] = "lesions"
    id_field: ClassVar[str] = "lesion_id"
    id_parent: ClassVar[str | None] = "patient_id"
    id_prefix: ClassVar[str] = "L"

    lesion_id: str = _id("Lesion identifier")
    patient_id: str = _ref("patients", "Patient")
    body_site: BodySite
    layer: Layer
    baseline_date: PastDate
    longest_diameter_mm: float = _quantity(
        "mm", "Longest diameter at baseline", required=True, gt=0, le=500
    )
    perpendicular_diameter_mm: float | None = _quantity(
        "mm", "Diameter perpendicular to the longest, at baseline", gt=0, le=500
    )
    thickness_mm: float | None = _quantity(
        "mm", "Depth of the deepest part below the skin surface", gt=0, le=200
    )
    ulcerated: bool | None = None
    bleeding: bool | None = None
    previously_irradiated: bool | None = None
    symptoms: list[Symptom] = Field(default_factory=list, description="Symptoms at baseline")
    location_detail: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Where exactly within the body site, e.g. 'left cheek, 2 cm below the "
        "eye' (free text)",
        json_schema_extra={"free_text": True, **_since(SCHEMA_1_3)},
    )

    @field_validator("perpendicular_diameter_mm")
    @classmethod
    def _perpendicular_not_longer(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _check_perpendicular(value, info)


class Session(Record):
    """One ECT session: a drug administration followed by electrode applications."""

    table: ClassVar[str] = "sessions"
    id_field: ClassVar[str] = "session_id"
    id_parent: ClassVar[str | None] = "patient_id"
    id_prefix: ClassVar[str] = "S"

    session_id: str = _id("Session identifier")
    patient_id: str = _ref("patients", "Patient")
    session_date: PastDate
    session_number: int = Field(
        ge=1, le=100, description="1 for the first ECT, 2 for the first retreatment, ..."
    )
    anaesthesia: Anaesthesia | None = None
    drug: Drug
    route: Route
    dose: float | None = _quantity(
        "IU|mg|mL",
        "Total dose given: IU of bleomycin, mg of cisplatin or mL of 220 mM calcium chloride",
        gt=0,
    )
    dose_per_m2: float | None = _quantity(
        "IU/m2", "Intravenous bleomycin dose per body-surface area", gt=0, le=30_000
    )
    bsa_m2: float | None = _quantity("m2", "Body-surface area", ge=0.5, le=3.5)
    height_cm: float | None = _quantity("cm", "Height at the session", ge=50, le=250)
    weight_kg: float | None = _quantity("kg", "Weight at the session", ge=20, le=300)
    creatinine_clearance_ml_min: float | None = _quantity(
        "mL/min", "Creatinine clearance", gt=0, le=300
    )
    bolus_end_time: LocalTime | None = Field(
        None, description="End of the IV bolus or IT injection (local time of day)"
    )
    rule_set: str | None = Field(
        None, pattern=ID_PATTERN, description="Protocol rule set id used for planning"
    )
    operator: str | None = Field(None, pattern=ID_PATTERN, description="Pseudonymous operator code")
    pain_during_nrs: int | None = Field(
        None,
        ge=0,
        le=10,
        description="Worst pain during the procedure, numeric rating scale 0-10 (0 = no pain, "
        "10 = worst imaginable), reported by the patient; empty when not assessable "
        "(general anaesthesia)",
        json_schema_extra=_since(SCHEMA_1_1),
    )
    pain_after_nrs: int | None = Field(
        None,
        ge=0,
        le=10,
        description="Worst pain after the procedure, before discharge, numeric rating scale "
        "0-10, reported by the patient",
        json_schema_extra=_since(SCHEMA_1_1),
    )
    analgesia: list[Analgesia] = Field(
        default_factory=list,
        description="Analgesia given for the procedure and after it (none alone, or any of "
        "the others)",
        json_schema_extra=_since(SCHEMA_1_1),
    )

    @field_validator("route")
    @classmethod
    def _route_allowed_for_drug(cls, value: Route, info: ValidationInfo) -> Route:
        drug = info.data.get("drug")
        if value is Route.INTRAVENOUS and drug in INTRATUMOURAL_ONLY:
            raise ValueError(
                f"intravenous for {drug.value}: it is given intratumourally only; "
                f"allowed: {Route.INTRATUMOURAL.value}"
            )
        return value

    @field_validator("dose")
    @classmethod
    def _dose_within_drug_range(cls, value: float | None, info: ValidationInfo) -> float | None:
        drug = info.data.get("drug")
        if value is not None and drug is not None and value > MAX_SESSION_DOSE[drug]:
            raise ValueError(
                f"out of range for {drug.value}: allowed > 0 and <= "
                f"{MAX_SESSION_DOSE[drug]:g} {DOSE_UNIT[drug]}"
            )
        return value

    @field_validator("dose_per_m2")
    @classmethod
    def _per_m2_only_iv_bleomycin(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return value
        if info.data.get("route") is Route.INTRATUMOURAL:
            raise ValueError("given for an intratumoural session; it applies to intravenous only")
        drug = info.data.get("drug")
        if drug is not None and drug is not Drug.BLEOMYCIN:
            raise ValueError(f"given for {drug.value}; it applies to intravenous bleomycin only")
        return value

    @field_validator("analgesia")
    @classmethod
    def _none_alone(cls, value: list[Analgesia]) -> list[Analgesia]:
        if Analgesia.NONE in value and len(value) > 1:
            others = ";".join(item.value for item in value if item is not Analgesia.NONE)
            raise ValueError(f"none together with {others}; give none alone or only the others")
        return value


class Application(Record):
    """One electrode application: one pulse train delivered to one lesion."""

    table: ClassVar[str] = "applications"
    id_field: ClassVar[str] = "application_id"
    id_parent: ClassVar[str | None] = "session_id"
    id_prefix: ClassVar[str] = "A"

    application_id: str = _id("Application identifier")
    session_id: str = _ref("sessions", "Session")
    lesion_id: str = _ref("lesions", "Lesion")
    time: LocalTime | None = Field(
        None, description="Time of day the pulses were delivered (local time of day)"
    )
    electrode: Annotated[str, AfterValidator(_in_catalogue)] = Field(
        pattern=ELECTRODE_PATTERN,
        description="Electrode catalogue id (plate, linear, hexagonal, finger), "
        "optionally ':DEVICE-CODE'",
    )
    voltage_v: float | None = _quantity("V", "Applied voltage", gt=0, le=3000)
    pulses: int | None = Field(None, ge=1, le=100, description="Number of pulses in the train")
    frequency_hz: float | None = _quantity("Hz", "Pulse repetition frequency", gt=0, le=10_000)
    pulse_duration_us: float | None = _quantity("us", "Duration of one pulse", gt=0, le=10_000)
    current_a: float | None = _quantity("A", "Peak current recorded by the generator", ge=0, le=100)
    complete: bool | None = Field(None, description="False if the generator aborted the train")
    injection_end_time: LocalTime | None = Field(
        None,
        description="Intratumoural sessions only: end of the injection into this "
        "application's lesion (local time of day); the application's window runs from it. "
        "Empty: from the session's bolus_end_time",
        json_schema_extra=_since(SCHEMA_1_3),
    )


class Assessment(Record):
    """One measurement of one lesion at a follow-up visit.

    The response category is derived (``openect.response``); ``override_response`` is
    honoured only together with ``override_reason``.
    """

    table: ClassVar[str] = "assessments"
    id_field: ClassVar[str] = "assessment_id"
    id_parent: ClassVar[str | None] = "lesion_id"
    id_prefix: ClassVar[str] = "V"

    assessment_id: str = _id("Assessment identifier")
    lesion_id: str = _ref("lesions", "Lesion")
    assessment_date: PastDate
    longest_diameter_mm: float = _quantity(
        "mm", "Longest diameter; 0 = no residual lesion", required=True, ge=0, le=500
    )
    perpendicular_diameter_mm: float | None = _quantity(
        "mm", "Diameter perpendicular to the longest", ge=0, le=500
    )
    method: AssessmentMethod | None = None
    assessor: str | None = Field(None, pattern=ID_PATTERN, description="Pseudonymous assessor code")
    override_response: ResponseCategory | None = None
    override_reason: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        validate_default=True,
        description="Why the response was overridden (free text)",
        json_schema_extra={"free_text": True},
    )
    note: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="What was seen at the visit besides the size, e.g. crust, necrosis, scar "
        "(free text)",
        json_schema_extra={"free_text": True, **_since(SCHEMA_1_3)},
    )
    new_lesion_in_field: bool | None = Field(
        None,
        description="A new lesion appeared in the treated field at this visit (progression "
        "in that field, whatever the size of this lesion)",
        json_schema_extra=_since(SCHEMA_1_3),
    )

    @field_validator("perpendicular_diameter_mm")
    @classmethod
    def _perpendicular_not_longer(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _check_perpendicular(value, info)

    @field_validator("override_reason")
    @classmethod
    def _reason_only_with_override(cls, value: str | None, info: ValidationInfo) -> str | None:
        data = info.data
        if value is not None and "override_response" in data and data["override_response"] is None:
            raise ValueError("given without an override_response")
        if value is None and data.get("override_response") is not None:
            raise ValueError(
                "missing; an override_response is honoured only with the reason for it"
            )
        return value

    @classmethod
    def optional_columns(cls) -> tuple[str, ...]:
        """Trailing columns a dataset may omit (older exports have no overrides)."""
        return ("override_response", "override_reason")


class AdverseEvent(Record):
    """An adverse event graded by CTCAE v5."""

    table: ClassVar[str] = "adverse_events"
    id_field: ClassVar[str] = "event_id"
    id_parent: ClassVar[str | None] = "patient_id"
    id_prefix: ClassVar[str] = "AE"

    event_id: str = _id("Adverse event identifier")
    patient_id: str = _ref("patients", "Patient")
    session_id: str | None = _ref("sessions", "Session the event is attributed to", required=False)
    onset_date: PastDate
    term: str = Field(
        min_length=1,
        max_length=200,
        description="CTCAE v5 term (free text)",
        json_schema_extra={"free_text": True},
    )
    grade: int = Field(ge=1, le=5, description="CTCAE grade")
    serious: bool | None = None


class PatientReported(Record):
    """A patient-reported outcome questionnaire: pain NRS, EQ-5D-3L and EQ-VAS."""

    table: ClassVar[str] = "patient_reported"
    id_field: ClassVar[str] = "report_id"
    id_parent: ClassVar[str | None] = "patient_id"
    id_prefix: ClassVar[str] = "PRO"

    report_id: str = _id("Report identifier")
    patient_id: str = _ref("patients", "Patient")
    report_date: PastDate
    pain_nrs: int | None = Field(None, ge=0, le=10, description="Pain numeric rating scale")
    eq5d_mobility: int | None = Field(None, ge=1, le=3, description="EQ-5D-3L mobility level")
    eq5d_selfcare: int | None = Field(None, ge=1, le=3, description="EQ-5D-3L self-care level")
    eq5d_activity: int | None = Field(
        None, ge=1, le=3, description="EQ-5D-3L usual activities level"
    )
    eq5d_pain: int | None = Field(None, ge=1, le=3, description="EQ-5D-3L pain/discomfort level")
    eq5d_anxiety: int | None = Field(
        None, ge=1, le=3, description="EQ-5D-3L anxiety/depression level"
    )
    eq_vas: int | None = Field(None, ge=0, le=100, description="EQ visual analogue scale")


class SystemicTherapy(Record):
    """A line of systemic anticancer therapy (start and, if ended, end date)."""

    table: ClassVar[str] = "systemic_therapies"
    id_field: ClassVar[str] = "therapy_id"
    id_parent: ClassVar[str | None] = "patient_id"
    id_prefix: ClassVar[str] = "T"

    therapy_id: str = _id("Therapy identifier")
    patient_id: str = _ref("patients", "Patient")
    agent_class: AgentClass
    agent: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="e.g. pembrolizumab (free text)",
        json_schema_extra={"free_text": True},
    )
    start_date: PastDate
    end_date: PastDate | None = Field(None, description="Empty while ongoing")
    bleomycin_iu: float | None = _quantity(
        "IU",
        "Cumulative bleomycin given by this therapy (e.g. ABVD or BEP chemotherapy, or "
        "electrochemotherapy at another centre), IU, from the treating centre's records; "
        "0 = none. The lifetime dose is this registry's ECT sessions plus these.",
        ge=0,
        le=MAX_THERAPY_BLEOMYCIN_IU,
        since=SCHEMA_1_1,
    )

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: dt.date | None, info: ValidationInfo) -> dt.date | None:
        start = info.data.get("start_date")
        if value is not None and start is not None and value < start:
            raise ValueError(f"before start_date {start.isoformat()}")
        return value


def _check_perpendicular(value: float | None, info: ValidationInfo) -> float | None:
    longest = info.data.get("longest_diameter_mm")
    if value is not None and longest is not None and value > longest:
        raise ValueError(f"longer than longest_diameter_mm ({longest:g}); allowed <= longest")
    return value


#: Entities in dataset order: referenced tables come before the tables that refer to them.
ENTITIES: tuple[type[Record], ...] = (
    Centre,
    Patient,
    Lesion,
    Session,
    Application,
    Assessment,
    AdverseEvent,
    PatientReported,
    SystemicTherapy,
)


def references(model: type[Record]) -> dict[str, str]:
    """Map each reference field of ``model`` to the table it refers to."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and "references" in extra:
            out[name] = str(extra["references"])
    return out


def added_in(model: type[Record], version: str) -> tuple[str, ...]:
    """Columns of ``model`` added in a schema version after ``version`` (``MAJOR.MINOR``):
    a file of that version may leave them out."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and isinstance(info.json_schema_extra.get("since"), str)
        and version_key(str(info.json_schema_extra["since"])) > version_key(version)
    )


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10"`` -> ``(1, 10)``, for comparing schema versions; unparseable parts are 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))
