"""Validation report and the cross-file rules of a dataset.

Row-level rules (types, ranges, enums, required cells, rules within one row) live in
the models (``openect.data.models``); this module holds the rules between rows and
files: unique identifiers, references, ownership (an application's lesion and session
belong to the same patient) and the order of dates
(baseline <= session <= assessments; death and last contact after every event).
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openect.data.dataset import Dataset
from openect.data.enums import Route
from openect.data.models import ENTITIES, Lesion, Patient, Record, Session, references
from openect.data.schema import file_name

#: Oldest plausible age at first ECT (years).
MAX_AGE_YEARS = 120


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a dataset.

    ``row`` is the line number in the CSV file (the header is line 1); ``None`` for
    problems of a whole file. ``value`` is the offending cell as text.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form: ``{"file", "row", "column", "value", "message"}``."""
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        if self.column is None:
            return f"{where}: {self.message}"
        return f"{where}: {self.column}={self.value!r}: {self.message}"


@dataclass
class ValidationReport:
    """All problems of a dataset at once, with the number of valid rows per table."""

    counts: dict[str, int] = field(default_factory=dict)
    issues: list[ValidationIssue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        """True when no problem was found."""
        return not self.issues

    def to_dict(self) -> dict[str, Any]:
        """``{"valid": bool, "counts": {...}, "errors": [...]}``."""
        return {
            "valid": self.valid,
            "counts": dict(self.counts),
            "errors": [issue.to_dict() for issue in self.issues],
        }


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


class _Locator:
    """Line numbers of records: from the reader when known, else position + 2.

    Built per table on first use, so a valid dataset pays nothing for it.
    """

    def __init__(self, dataset: Dataset, lines: Mapping[str, Sequence[int]] | None) -> None:
        self._dataset = dataset
        self._lines = lines
        self._rows: dict[str, dict[int, int]] = {}

    def numbers(self, model: type[Record]) -> Sequence[int]:
        """Line numbers of the records of ``model``, in list order."""
        numbers = self._lines.get(model.table) if self._lines is not None else None
        return numbers if numbers is not None else range(2, len(self._dataset.records(model)) + 2)

    def row(self, record: Record) -> int | None:
        rows = self._rows.get(record.table)
        if rows is None:
            model = type(record)
            records = self._dataset.records(model)
            rows = {id(other): n for other, n in zip(records, self.numbers(model), strict=True)}
            self._rows[record.table] = rows
        return rows.get(id(record))


def check_dataset(
    dataset: Dataset,
    lines: Mapping[str, Sequence[int]] | None = None,
    known_ids: Mapping[str, set[str] | None] | None = None,
) -> list[ValidationIssue]:
    """Check the rules between rows and files of an already row-valid dataset.

    ``lines`` gives the CSV line number of each record (parallel to the record lists);
    ``known_ids`` are identifiers present in each file even where their row was
    invalid, so that a bad row does not also produce "unknown reference" issues;
    ``None`` for a file that could not be read, whose references are not checked.
    Returns every issue found, in file order.
    """
    locate = _Locator(dataset, lines)
    issues: list[ValidationIssue] = []

    def add(
        record: Record, column: str, value: object, message: str, row: int | None = None
    ) -> None:
        line = locate.row(record) if row is None else row
        issues.append(ValidationIssue(file_name(type(record)), line, column, _fmt(value), message))

    # Unique identifiers; records by id for the tables that others refer to.
    targets = {target for model in ENTITIES for target in references(model).values()}
    ids: dict[str, set[str]] = {}
    by_id: dict[str, dict[str, Record]] = {}
    for model in ENTITIES:
        id_field = model.id_field
        records = dataset.records(model)
        ids[model.table] = set(map(operator.attrgetter(id_field), records))
        if len(ids[model.table]) < len(records):
            seen: set[str] = set()
            for record, line in zip(records, locate.numbers(model), strict=True):
                identifier = getattr(record, id_field)
                if identifier in seen:
                    add(record, id_field, identifier, f"duplicate {id_field}", line)
                seen.add(identifier)
        if model.table in targets:
            table: dict[str, Record] = {}
            for record in records:
                table.setdefault(getattr(record, id_field), record)
            by_id[model.table] = table

    # References between files (set differences first: a valid dataset costs little).
    for model in ENTITIES:
        records = dataset.records(model)
        for column, target in references(model).items():
            missing = set(map(operator.attrgetter(column), records)) - ids[target]
            missing.discard(None)
            if known_ids is not None:
                present = known_ids.get(target)
                # An unreadable file, or referenced rows that are themselves invalid.
                missing = set() if present is None else missing - present
            if not missing:
                continue
            for record in records:
                value = getattr(record, column)
                if value in missing:
                    add(record, column, value, f"unknown {column}: no such row in {target}.csv")

    patients: dict[str, Patient] = by_id["patients"]  # type: ignore[assignment]
    lesions: dict[str, Lesion] = by_id["lesions"]  # type: ignore[assignment]
    sessions: dict[str, Session] = by_id["sessions"]  # type: ignore[assignment]

    # Ownership: records that point at two parents must point at the same patient.
    first_treatment: dict[str, dt.date] = {}
    for application in dataset.applications:
        lesion = lesions.get(application.lesion_id)
        session = sessions.get(application.session_id)
        if lesion is None or session is None:
            continue
        if lesion.patient_id != session.patient_id:
            add(
                application,
                "lesion_id",
                application.lesion_id,
                f"lesion of patient {lesion.patient_id} but session {session.session_id} "
                f"is of patient {session.patient_id}",
            )
            continue
        if application.injection_end_time is not None and session.route is not Route.INTRATUMOURAL:
            add(
                application,
                "injection_end_time",
                application.injection_end_time,
                f"only for intratumoural sessions; session {session.session_id} is "
                f"{session.route.value} (its window runs from the bolus end): leave it empty",
            )
        previous = first_treatment.get(lesion.lesion_id)
        if previous is None or session.session_date < previous:
            first_treatment[lesion.lesion_id] = session.session_date
    for event in dataset.adverse_events:
        if event.session_id is None or event.session_id not in sessions:
            continue
        session = sessions[event.session_id]
        if session.patient_id != event.patient_id:
            add(
                event,
                "session_id",
                event.session_id,
                f"session of patient {session.patient_id}, not of {event.patient_id}",
            )
        elif event.onset_date < session.session_date:
            add(
                event,
                "onset_date",
                event.onset_date,
                f"before the date of its session {session.session_id} "
                f"({session.session_date.isoformat()})",
            )

    # Date order: baseline <= first treating session <= assessments.
    for lesion in dataset.lesions:
        treated = first_treatment.get(lesion.lesion_id)
        if treated is not None and treated < lesion.baseline_date:
            add(
                lesion,
                "baseline_date",
                lesion.baseline_date,
                f"after the first session treating the lesion ({treated.isoformat()}); "
                "baseline must be on or before it",
            )
    for assessment in dataset.assessments:
        lesion_ = lesions.get(assessment.lesion_id)
        if lesion_ is None:
            continue
        start = first_treatment.get(lesion_.lesion_id, lesion_.baseline_date)
        if assessment.assessment_date < start:
            what = (
                "the first session treating the lesion"
                if lesion_.lesion_id in first_treatment
                else "the lesion's baseline_date"
            )
            add(
                assessment,
                "assessment_date",
                assessment.assessment_date,
                f"before {what} ({start.isoformat()})",
            )

    # A patient's number is unique within the centre (the label C01-0042).
    numbered: dict[tuple[str, int], str] = {}
    for patient in dataset.patients:
        if patient.patient_number is None:
            continue
        key = (patient.centre_id, patient.patient_number)
        holder = numbered.setdefault(key, patient.patient_id)
        if holder != patient.patient_id:
            add(
                patient,
                "patient_number",
                patient.patient_number,
                f"already the number of patient {holder} of centre {patient.centre_id}; "
                "each patient of a centre has their own number",
            )

    # Sessions of a patient: numbers unique and increasing with date.
    per_patient: dict[str, list[Session]] = defaultdict(list)
    for session in dataset.sessions:
        per_patient[session.patient_id].append(session)
    for group in per_patient.values():
        numbers_seen: set[int] = set()
        ordered = sorted(group, key=lambda s: (s.session_date, s.session_number))
        for earlier, later in itertools.pairwise(ordered):
            if later.session_number < earlier.session_number:
                add(
                    later,
                    "session_number",
                    later.session_number,
                    f"session {later.session_number} on {later.session_date.isoformat()} "
                    f"comes after session {earlier.session_number} on "
                    f"{earlier.session_date.isoformat()}; numbers must increase with date",
                )
        for session in sorted(group, key=lambda s: s.session_number):
            if session.session_number in numbers_seen:
                add(
                    session,
                    "session_number",
                    session.session_number,
                    f"duplicate session_number for patient {session.patient_id}",
                )
            numbers_seen.add(session.session_number)

    # Every event of a patient lies between birth and death / last contact.
    _check_patient_timelines(dataset, patients, lesions, sessions, add)
    return issues


def _check_patient_timelines(
    dataset: Dataset,
    patients: Mapping[str, Patient],
    lesions: Mapping[str, Lesion],
    sessions: Mapping[str, Session],
    add: Callable[[Record, str, object, str], None],
) -> None:
    """Every dated event of a patient: not after death or last contact; plausible age."""
    bounds: dict[str, dt.date] = {}
    for patient_id, patient in patients.items():
        known = [d for d in (patient.death_date, patient.last_contact_date) if d is not None]
        if known:
            bounds[patient_id] = min(known)
    lesion_owner = {lesion_id: lesion.patient_id for lesion_id, lesion in lesions.items()}
    first_event: dict[str, dt.date] = {}

    def scan(records: Sequence[Record], owners: Iterable[str | None], column: str) -> None:
        for record, patient_id, date in zip(
            records, owners, map(operator.attrgetter(column), records), strict=True
        ):
            if patient_id is None or patient_id not in patients:
                continue
            bound = bounds.get(patient_id)
            if bound is not None and date > bound:
                patient = patients[patient_id]
                if patient.death_date is not None and date > patient.death_date:
                    limit = f"the death_date of patient {patient_id} ({patient.death_date})"
                else:
                    limit = (
                        f"the last_contact_date of patient {patient_id} "
                        f"({patient.last_contact_date})"
                    )
                add(record, column, date, f"after {limit}")
            first = first_event.get(patient_id)
            if first is None or date < first:
                first_event[patient_id] = date

    by_patient = operator.attrgetter("patient_id")
    scan(dataset.lesions, map(by_patient, dataset.lesions), "baseline_date")
    scan(dataset.sessions, map(by_patient, dataset.sessions), "session_date")
    scan(
        dataset.assessments,
        (lesion_owner.get(a.lesion_id) for a in dataset.assessments),
        "assessment_date",
    )
    scan(dataset.adverse_events, map(by_patient, dataset.adverse_events), "onset_date")
    scan(dataset.patient_reported, map(by_patient, dataset.patient_reported), "report_date")
    scan(dataset.systemic_therapies, map(by_patient, dataset.systemic_therapies), "start_date")

    for patient_id, date in first_event.items():
        patient = patients[patient_id]
        age = date.year - patient.birth_year
        if age < 0 or age > MAX_AGE_YEARS:
            add(
                patient,
                "birth_year",
                patient.birth_year,
                f"gives an age of {age} years at the first recorded event ({date.isoformat()}); "
                f"allowed 0 to {MAX_AGE_YEARS}",
            )
