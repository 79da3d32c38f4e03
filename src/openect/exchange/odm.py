"""CDISC ODM 1.3.2 export of a dataset: one ``Snapshot`` file of metadata and data.

The ODM file is a projection of the canonical data model (``openect.data``), like the
CSV dataset and the FHIR bundle (``openect.exchange.fhir``). Its metadata is derived
from :mod:`openect.data.schema`, never typed here:

- one ``ItemGroupDef`` per entity table (``IG.LESIONS``), ``Repeating="Yes"`` for every
  table a subject can have several records of;
- one ``ItemDef`` per column (``IT.LESIONS.LONGEST_DIAMETER_MM``) with its ODM
  ``DataType``, ``MeasurementUnitRef``, ``RangeCheck`` (from the column's bounds),
  ``CodeListRef`` (enumerations) and description;
- one ``CodeList`` per enumeration (``CL.BodySite``) and one ``MeasurementUnit`` per
  unit used (``MU.mm``);
- one ``FormDef`` per subject-level table inside a single ``StudyEventDef``
  (``SE.REGISTRY``): the registry has no visit schedule, every record carries its dates.

Subjects are patients (``SubjectKey`` = ``patient_id``). Centres are sites: one
``AdminData/Location`` per centre, a ``SiteRef`` in each ``SubjectData``, and the
centres' own columns as reference data (``ReferenceData``, ``IG.CENTRES``). Each record
is one ``ItemGroupData`` (``ItemGroupRepeatKey`` = its id) of its patient, found by
following the record's references (an application belongs to its session's patient).

Values are written as in the CSV files (ISO dates, ``true``/``false``, lists
semicolon-separated, numbers in the shortest round-trip form) except times of day,
which are written ``HH:MM:SS`` as ODM's ``time`` (``xs:time``) requires. Empty cells
have no ``ItemData``. The same dataset and ``created`` always give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from lxml import etree

from openect import __version__
from openect.data.dataset import SCHEMA_VERSION, Dataset, collection_paused
from openect.data.models import (
    DOSE_UNIT,
    ENTITIES,
    Centre,
    Patient,
    Record,
    Session,
    references,
)
from openect.data.schema import Column, columns
from openect.exchange.fhir import UCUM_CODES

__all__ = [
    "DATA_TYPES",
    "EVENT_OID",
    "ODM_NS",
    "ODM_VERSION",
    "SITE_MODEL",
    "STUDY_OID",
    "SUBJECT_MODEL",
    "code_list_oid",
    "dataset_to_odm",
    "form_oid",
    "format_value",
    "item_group_oid",
    "item_oid",
    "location_oid",
    "measurement_unit_oid",
    "metadata_version_oid",
    "units",
    "write_odm",
]

#: Namespace of ODM 1.3.x documents.
ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
ODM_VERSION = "1.3.2"
STUDY_OID = "ST.OPENECT"
#: The one study event: the registry record of a patient (no visit schedule).
EVENT_OID = "SE.REGISTRY"
#: Entity whose records are the ODM subjects.
SUBJECT_MODEL: type[Record] = Patient
#: Entity whose records are the ODM sites (locations).
SITE_MODEL: type[Record] = Centre

#: ODM ``DataType`` of each column kind of :mod:`openect.data.schema`.
DATA_TYPES: dict[str, str] = {
    "str": "text",
    "int": "integer",
    "float": "float",
    "bool": "boolean",
    "date": "date",
    "time": "time",
    "enum": "text",
    "list": "text",
}

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_COMPARATORS = (("gt", "GT"), ("ge", "GE"), ("lt", "LT"), ("le", "LE"))


def _q(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


_ITEM_GROUP_DATA = _q("ItemGroupData")
_ITEM_DATA = _q("ItemData")
_MEASUREMENT_UNIT_REF = _q("MeasurementUnitRef")


# -- OIDs ------------------------------------------------------------------------------


def metadata_version_oid() -> str:
    """OID of the metadata version: the dataset schema version (``MDV.1.0``)."""
    return f"MDV.{SCHEMA_VERSION}"


def form_oid(model: type[Record]) -> str:
    """OID of the form of an entity table, e.g. ``F.LESIONS``."""
    return f"F.{model.table.upper()}"


def item_group_oid(model: type[Record]) -> str:
    """OID of the item group of an entity table, e.g. ``IG.LESIONS``."""
    return f"IG.{model.table.upper()}"


def item_oid(model: type[Record], column: str) -> str:
    """OID of the item of one column, e.g. ``IT.LESIONS.LONGEST_DIAMETER_MM``."""
    return f"IT.{model.table.upper()}.{column.upper()}"


def code_list_oid(enum: type[StrEnum]) -> str:
    """OID of the code list of an enumeration, e.g. ``CL.BodySite``."""
    return f"CL.{enum.__name__}"


def measurement_unit_oid(unit: str) -> str:
    """OID of a measurement unit, e.g. ``MU.mm``, ``MU.IU_per_m2``, ``MU.percent``."""
    spelled = unit.replace("/", "_per_").replace("%", "percent")
    return "MU." + re.sub(r"[^A-Za-z0-9_]", "_", spelled)


def location_oid(centre_id: str) -> str:
    """OID of the ``Location`` (site) of a centre."""
    return f"LOC.{centre_id}"


def _column_units(column: Column) -> list[str]:
    """Units a column may be recorded in (``IU|mg|mL``: one of them, by the drug)."""
    return column.unit.split("|") if column.unit else []


def units() -> list[str]:
    """Every unit of the data model, in order of first use."""
    seen: dict[str, None] = {}
    for model in ENTITIES:
        for column in columns(model):
            for unit in _column_units(column):
                seen.setdefault(unit, None)
    return list(seen)


def _enums() -> list[type[StrEnum]]:
    """Every enumeration used by a column (enum or list of enum), in order of first use."""
    seen: dict[type[StrEnum], None] = {}
    for model in ENTITIES:
        for column in columns(model):
            if column.enum is not None:
                seen.setdefault(column.enum, None)
    return list(seen)


def _doc(obj: object) -> str:
    return (obj.__doc__ or "").strip().splitlines()[0]


def _is_repeating(model: type[Record]) -> bool:
    return model is not SUBJECT_MODEL


# -- values ----------------------------------------------------------------------------


def _number(value: float) -> str:
    """Shortest round-trip form, as in the CSV files, but never in exponent notation."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def format_value(column: Column, value: Any) -> str | None:
    """The ODM ``ItemData/@Value`` of one cell, or ``None`` for an empty cell."""
    if value is None:
        return None
    kind = column.kind
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float":
        return _number(float(value))
    if kind in ("int", "str"):
        return str(value)
    if kind == "date":
        return str(value.isoformat())
    if kind == "time":
        return str(value.isoformat(timespec="microseconds" if value.microsecond else "seconds"))
    if kind == "enum":
        return str(value.value)
    if kind == "list":
        return ";".join(item.value for item in value) or None
    raise ValueError(f"{column.name}: unknown column kind {kind!r}")


def _record_unit(record: Record, column: Column) -> str | None:
    """Unit of one cell when its column allows several (session dose: IU, mg or mL)."""
    if "|" not in (column.unit or ""):
        return None
    if isinstance(record, Session) and column.name == "dose":
        return DOSE_UNIT[record.drug]
    return None


# -- document --------------------------------------------------------------------------


def _sub(
    parent: Any, tag: str, attrib: dict[str, str] | None = None, text: str | None = None
) -> Any:
    element = etree.SubElement(parent, _q(tag), attrib or {})
    if text is not None:
        element.text = text
    return element


def _translated(parent: Any, tag: str, text: str) -> Any:
    element = _sub(parent, tag)
    _sub(element, "TranslatedText", {_XML_LANG: "en"}, text)
    return element


def _subject_owners(dataset: Dataset) -> dict[type[Record], dict[str, str]]:
    """For each subject-level entity, the subject (patient id) of each record id.

    A record's subject is found through its first required reference to an entity
    whose subjects are known (entities come in dependency order).
    """
    owners: dict[type[Record], dict[str, str]] = {}
    tables = {model.table: model for model in ENTITIES}
    for model in ENTITIES:
        if model is SITE_MODEL:
            continue
        records = dataset.records(model)
        if model is SUBJECT_MODEL:
            owners[model] = {record.id: record.id for record in records}
            continue
        required = {c.name for c in columns(model) if c.required}
        link = next(
            (
                (name, tables[table])
                for name, table in references(model).items()
                if name in required and tables[table] in owners
            ),
            None,
        )
        if link is None:
            raise ValueError(f"{model.table}: no reference leads to a {SUBJECT_MODEL.table} row")
        name, parent = link
        parent_owner = owners[parent]
        owner: dict[str, str] = {}
        for record in records:
            key = getattr(record, name)
            if key not in parent_owner:
                raise ValueError(
                    f"{model.table} {record.id}: {name} {key!r} is not in {parent.table}"
                )
            owner[record.id] = parent_owner[key]
        owners[model] = owner
    return owners


def _study(root: Any, dataset: Dataset) -> None:
    """``Study``: global variables, units and the metadata derived from the data model."""
    study = _sub(root, "Study", {"OID": STUDY_OID})
    variables = _sub(study, "GlobalVariables")
    _sub(variables, "StudyName", text="OpenECT registry")
    _sub(
        variables,
        "StudyDescription",
        text=dataset.info.description or "OpenECT dataset: electrochemotherapy of skin metastases",
    )
    _sub(variables, "ProtocolName", text=f"OpenECT dataset schema {SCHEMA_VERSION}")

    basic = _sub(study, "BasicDefinitions")
    for unit in units():
        element = _sub(basic, "MeasurementUnit", {"OID": measurement_unit_oid(unit), "Name": unit})
        _translated(element, "Symbol", unit)
        if unit in UCUM_CODES:
            _sub(element, "Alias", {"Context": "UCUM", "Name": UCUM_CODES[unit]})

    mdv = _sub(
        study,
        "MetaDataVersion",
        {
            "OID": metadata_version_oid(),
            "Name": f"OpenECT dataset schema {SCHEMA_VERSION}",
            "Description": "Derived from the canonical models in openect.data.models",
        },
    )
    subject_models = list(_iter_subject_models())

    protocol = _sub(mdv, "Protocol")
    _sub(
        protocol,
        "StudyEventRef",
        {"StudyEventOID": EVENT_OID, "OrderNumber": "1", "Mandatory": "Yes"},
    )

    event = _sub(
        mdv,
        "StudyEventDef",
        {"OID": EVENT_OID, "Name": "Registry record", "Repeating": "No", "Type": "Common"},
    )
    _translated(event, "Description", "Every record of one patient; records carry their own dates")
    for order, model in enumerate(subject_models, start=1):
        _sub(
            event,
            "FormRef",
            {
                "FormOID": form_oid(model),
                "OrderNumber": str(order),
                "Mandatory": "Yes" if model is SUBJECT_MODEL else "No",
            },
        )

    for model in subject_models:
        form = _sub(
            mdv, "FormDef", {"OID": form_oid(model), "Name": model.table, "Repeating": "No"}
        )
        _translated(form, "Description", _doc(model))
        _sub(
            form,
            "ItemGroupRef",
            {"ItemGroupOID": item_group_oid(model), "OrderNumber": "1", "Mandatory": "Yes"},
        )

    for model in ENTITIES:
        attrib = {
            "OID": item_group_oid(model),
            "Name": model.table,
            "Repeating": "Yes" if _is_repeating(model) else "No",
        }
        if model is SITE_MODEL:
            attrib["IsReferenceData"] = "Yes"
        group = _sub(mdv, "ItemGroupDef", attrib)
        _translated(group, "Description", _doc(model))
        for order, column in enumerate(columns(model), start=1):
            ref = {
                "ItemOID": item_oid(model, column.name),
                "OrderNumber": str(order),
                "Mandatory": "Yes" if column.required else "No",
            }
            if column.name == model.id_field:
                ref["KeySequence"] = "1"
            _sub(group, "ItemRef", ref)

    for model in ENTITIES:
        for column in columns(model):
            _item_def(mdv, model, column)

    for enum in _enums():
        code_list = _sub(
            mdv, "CodeList", {"OID": code_list_oid(enum), "Name": enum.__name__, "DataType": "text"}
        )
        _translated(code_list, "Description", _doc(enum))
        for order, member in enumerate(enum, start=1):
            _sub(
                code_list, "EnumeratedItem", {"CodedValue": member.value, "OrderNumber": str(order)}
            )


def _item_def(mdv: Any, model: type[Record], column: Column) -> None:
    item = _sub(
        mdv,
        "ItemDef",
        {
            "OID": item_oid(model, column.name),
            "Name": column.name,
            "DataType": DATA_TYPES[column.kind],
        },
    )
    description = column.description or column.name
    allowed = column.allowed
    if column.kind == "list" and column.enum is not None:
        allowed += f" (code list {code_list_oid(column.enum)})"
    if column.references is not None:
        allowed += f"; refers to {column.references}"
    _translated(item, "Description", f"{description}. Allowed: {allowed}")
    for unit in _column_units(column):
        _sub(item, "MeasurementUnitRef", {"MeasurementUnitOID": measurement_unit_oid(unit)})
    if column.kind in ("int", "float"):
        for attribute, comparator in _COMPARATORS:
            bound = getattr(column, attribute)
            if bound is None:
                continue
            check = _sub(item, "RangeCheck", {"Comparator": comparator, "SoftHard": "Hard"})
            text = str(bound) if isinstance(bound, int) else _number(float(bound))
            _sub(check, "CheckValue", text=text)
            _translated(check, "ErrorMessage", f"{column.name}: allowed {column.allowed}")
    if column.kind == "enum" and column.enum is not None:
        _sub(item, "CodeListRef", {"CodeListOID": code_list_oid(column.enum)})
    _sub(
        item, "Alias", {"Context": "OpenECT dataset column", "Name": f"{model.table}.{column.name}"}
    )


class _GroupWriter:
    """Writes the ``ItemGroupData`` of one entity's records (OIDs worked out once)."""

    def __init__(self, model: type[Record]) -> None:
        self.attrib = {"ItemGroupOID": item_group_oid(model)}
        self.repeating = _is_repeating(model)
        self.items = [
            (column, column.name, item_oid(model, column.name), "|" in (column.unit or ""))
            for column in columns(model)
        ]

    def write(self, parent: Any, record: Record) -> None:
        attrib = dict(self.attrib)
        if self.repeating:
            attrib["ItemGroupRepeatKey"] = record.id
        group = etree.SubElement(parent, _ITEM_GROUP_DATA, attrib)
        for column, name, oid, several_units in self.items:
            value = format_value(column, getattr(record, name))
            if value is None:
                continue
            item = etree.SubElement(group, _ITEM_DATA, ItemOID=oid, Value=value)
            if several_units:
                unit = _record_unit(record, column)
                if unit is not None:
                    etree.SubElement(
                        item, _MEASUREMENT_UNIT_REF, MeasurementUnitOID=measurement_unit_oid(unit)
                    )


def _records_by_subject(
    dataset: Dataset,
) -> dict[str, dict[type[Record], list[Record]]]:
    owners = _subject_owners(dataset)
    grouped: dict[str, dict[type[Record], list[Record]]] = {
        patient.id: {} for patient in dataset.records(SUBJECT_MODEL)
    }
    for model, owner in owners.items():
        for record in dataset.records(model):
            grouped[owner[record.id]].setdefault(model, []).append(record)
    return grouped


def _iter_subject_models() -> Iterator[type[Record]]:
    return (model for model in ENTITIES if model is not SITE_MODEL)


def dataset_to_odm(dataset: Dataset, created: dt.datetime | None = None) -> bytes:
    """The CDISC ODM 1.3.2 ``Snapshot`` XML (UTF-8 bytes) of every record of ``dataset``.

    ``created`` is the ``CreationDateTime`` (default: now, UTC); it also names the file
    (``FileOID``) and dates the sites' metadata version, so the same dataset and
    ``created`` always give the same bytes.
    """
    if created is None:
        created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = created.isoformat()
    root = etree.Element(
        _q("ODM"),
        {
            "Description": f"OpenECT dataset export (schema {SCHEMA_VERSION})",
            "FileType": "Snapshot",
            "Granularity": "All",
            "FileOID": f"OpenECT.{created.strftime('%Y%m%dT%H%M%S')}",
            "CreationDateTime": stamp,
            "ODMVersion": ODM_VERSION,
            "Originator": "OpenECT",
            "SourceSystem": "openect",
            "SourceSystemVersion": __version__,
        },
        nsmap={None: ODM_NS},
    )
    mdv_ref = {
        "StudyOID": STUDY_OID,
        "MetaDataVersionOID": metadata_version_oid(),
    }
    with collection_paused():
        _study(root, dataset)

        sites = dataset.records(SITE_MODEL)
        if sites:
            admin = _sub(root, "AdminData", {"StudyOID": STUDY_OID})
            for site in sites:
                location = _sub(
                    admin,
                    "Location",
                    {
                        "OID": location_oid(site.id),
                        "Name": getattr(site, "name", None) or site.id,
                        "LocationType": "Site",
                    },
                )
                _sub(
                    location,
                    "MetaDataVersionRef",
                    {**mdv_ref, "EffectiveDate": created.date().isoformat()},
                )
            reference = _sub(root, "ReferenceData", mdv_ref)
            site_writer = _GroupWriter(SITE_MODEL)
            for site in sites:
                site_writer.write(reference, site)

        clinical = _sub(root, "ClinicalData", mdv_ref)
        grouped = _records_by_subject(dataset)
        site_link = next(
            name for name, table in references(SUBJECT_MODEL).items() if table == SITE_MODEL.table
        )
        writers = {model: _GroupWriter(model) for model in _iter_subject_models()}
        for subject in dataset.records(SUBJECT_MODEL):
            subject_data = _sub(clinical, "SubjectData", {"SubjectKey": subject.id})
            _sub(
                subject_data, "SiteRef", {"LocationOID": location_oid(getattr(subject, site_link))}
            )
            event = _sub(subject_data, "StudyEventData", {"StudyEventOID": EVENT_OID})
            records = grouped[subject.id]
            for model in _iter_subject_models():
                model_records = records.get(model)
                if not model_records:
                    continue
                form = _sub(event, "FormData", {"FormOID": form_oid(model)})
                writer = writers[model]
                for record in model_records:
                    writer.write(form, record)

        return bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
        )


def write_odm(
    dataset: Dataset,
    path: str | os.PathLike[str],
    created: dt.datetime | None = None,
) -> Path:
    """Write the ODM XML of ``dataset`` to ``path`` and return the path.

    See :func:`dataset_to_odm`; ``created`` defaults to now (UTC).
    """
    target = Path(path)
    target.write_bytes(dataset_to_odm(dataset, created))
    return target
