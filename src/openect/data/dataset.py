"""The in-memory dataset: every entity of the data model, plus its ``dataset.json``."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from openect import __version__
from openect.data.models import (
    ENTITIES,
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

if TYPE_CHECKING:
    import pandas as pd

#: Name of the dataset format written in ``dataset.json``.
DATASET_FORMAT = "openect-dataset"
#: Version of the dataset schema this package writes (``MAJOR.MINOR``); it reads every
#: ``1.x``. 1.1 added the clinical-safety columns (DLCO and chest imaging of patients,
#: pain and analgesia of sessions, bleomycin of systemic therapies; calcium chloride as a
#: drug, ECT elsewhere as an agent class); a 1.0 file may leave those columns out. 1.2
#: added the patient's number within the centre (``patient_number``, the short label
#: ``C01-0042``); a 1.0 or 1.1 file may leave it out.
SCHEMA_VERSION = "1.3"

R = TypeVar("R", bound=Record)


class DatasetInfo(BaseModel):
    """Contents of ``dataset.json``: schema version and what wrote the dataset."""

    model_config = ConfigDict(extra="allow")

    format: str = DATASET_FORMAT
    schema_version: str = SCHEMA_VERSION
    generator: str = Field(default=f"openect {__version__}", description="Program that wrote it")
    synthetic: bool = Field(default=False, description="True for generated, non-patient data")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Dataset:
    """All records of one dataset, one list per entity, in file order."""

    info: DatasetInfo = field(default_factory=DatasetInfo)
    centres: list[Centre] = field(default_factory=list)
    patients: list[Patient] = field(default_factory=list)
    lesions: list[Lesion] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    applications: list[Application] = field(default_factory=list)
    assessments: list[Assessment] = field(default_factory=list)
    adverse_events: list[AdverseEvent] = field(default_factory=list)
    patient_reported: list[PatientReported] = field(default_factory=list)
    systemic_therapies: list[SystemicTherapy] = field(default_factory=list)

    def records(self, model: type[R]) -> list[R]:
        """The list of records of one entity, e.g. ``dataset.records(Lesion)``."""
        records: list[R] = getattr(self, model.table)
        return records

    def counts(self) -> dict[str, int]:
        """Number of records per table, in dataset order."""
        return {model.table: len(self.records(model)) for model in ENTITIES}

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """One pandas DataFrame per table, columns in data-model order.

        Enum values become their strings, dates ``datetime64``; empty tables keep
        their columns.
        """
        import pandas as pd

        from openect.data.schema import columns

        frames: dict[str, pd.DataFrame] = {}
        for model in ENTITIES:
            names = [column.name for column in columns(model)]
            rows = [record.model_dump(mode="python") for record in self.records(model)]
            frame = pd.DataFrame.from_records(rows, columns=names)
            for column in columns(model):
                if column.kind == "date":
                    frame[column.name] = pd.to_datetime(frame[column.name])
            frames[model.table] = frame
        return frames


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small, acyclic records.

    Records never form reference cycles, so collections during a bulk load only cost
    time (about a quarter of it); the previous state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
