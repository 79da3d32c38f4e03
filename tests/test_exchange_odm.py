"""CDISC ODM export: valid against the official ODM 1.3.2 schema, derived from the data
model, complete and deterministic.

The schema files in ``tests/fixtures/odm`` are CDISC's ODM 1.3.2 XML schemas (see the
README there); validation needs no network.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lxml import etree

from openect.data.csvio import write_dataset
from openect.data.dataset import SCHEMA_VERSION, Dataset
from openect.data.enums import Drug
from openect.data.models import (
    ENTITIES,
    Application,
    Assessment,
    Centre,
    Lesion,
    Patient,
    Record,
    Session,
    SystemicTherapy,
)
from openect.data.schema import columns, file_name
from openect.exchange.odm import (
    DATA_TYPES,
    ODM_NS,
    code_list_oid,
    dataset_to_odm,
    item_group_oid,
    item_oid,
    measurement_unit_oid,
    units,
    write_odm,
)
from openect.synth import generate_cohort

SCHEMA_FILE = Path(__file__).parent / "fixtures" / "odm" / "ODM1-3-2.xsd"
CREATED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
NS = {"odm": ODM_NS}
R = TypeVar("R", bound=Record)


@pytest.fixture(scope="module")
def odm_schema() -> etree.XMLSchema:
    """The official ODM 1.3.2 schema (with xmldsig and xml.xsd, all local)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


def synthetic() -> Dataset:
    """A small generated cohort: several centres, retreatments, every table filled."""
    return generate_cohort(12, centres=3, seed=11)


def parse(data: Dataset) -> Any:
    return etree.fromstring(dataset_to_odm(data, CREATED))


def replace(record: R, **changes: Any) -> R:
    """A validated copy of ``record`` with ``changes``."""
    return type(record).model_validate({**record.model_dump(), **changes})


def oids(doc: Any, element: str) -> set[str]:
    return {e.get("OID") for e in doc.iterfind(f".//odm:{element}", NS)}


def values(doc: Any, xpath: str, attribute: str) -> set[str]:
    return {e.get(attribute) for e in doc.iterfind(xpath, NS)}


def values_list(doc: Any, xpath: str, attribute: str) -> list[str]:
    return [e.get(attribute) for e in doc.iterfind(xpath, NS)]


DATASETS = [pytest.param(None, id="hand-written"), pytest.param(synthetic, id="synthetic")]


# -- validity --------------------------------------------------------------------------


@pytest.mark.parametrize("make", DATASETS)
def test_odm_is_valid_against_the_official_odm_1_3_2_schema(
    dataset: Dataset, make: Any, odm_schema: etree.XMLSchema
) -> None:
    doc = parse(dataset if make is None else make())

    assert odm_schema.validate(doc), odm_schema.error_log
    assert doc.tag == f"{{{ODM_NS}}}ODM"
    assert doc.get("ODMVersion") == "1.3.2"
    assert doc.get("FileType") == "Snapshot"
    assert doc.get("CreationDateTime") == "2026-01-02T03:04:05+00:00"


def test_the_schema_rejects_a_broken_document(
    dataset: Dataset, odm_schema: etree.XMLSchema
) -> None:
    doc = parse(dataset)
    doc.find(".//odm:ItemGroupDef", NS).set("Repeating", "Sometimes")
    assert not odm_schema.validate(doc)


@pytest.mark.parametrize("make", DATASETS)
def test_every_oid_reference_resolves(dataset: Dataset, make: Any) -> None:
    doc = parse(dataset if make is None else make())

    checks = [
        (".//odm:ItemData", "ItemOID", "ItemDef"),
        (".//odm:ItemRef", "ItemOID", "ItemDef"),
        (".//odm:ItemGroupData", "ItemGroupOID", "ItemGroupDef"),
        (".//odm:ItemGroupRef", "ItemGroupOID", "ItemGroupDef"),
        (".//odm:FormData", "FormOID", "FormDef"),
        (".//odm:FormRef", "FormOID", "FormDef"),
        (".//odm:StudyEventData", "StudyEventOID", "StudyEventDef"),
        (".//odm:StudyEventRef", "StudyEventOID", "StudyEventDef"),
        (".//odm:CodeListRef", "CodeListOID", "CodeList"),
        (".//odm:MeasurementUnitRef", "MeasurementUnitOID", "MeasurementUnit"),
        (".//odm:SiteRef", "LocationOID", "Location"),
    ]
    for xpath, attribute, definition in checks:
        used = values(doc, xpath, attribute)
        assert used, xpath
        assert used <= oids(doc, definition), (xpath, used - oids(doc, definition))
    for element in ("ClinicalData", "ReferenceData", "MetaDataVersionRef"):
        for node in doc.iterfind(f".//odm:{element}", NS):
            assert node.get("StudyOID") in oids(doc, "Study")
            assert node.get("MetaDataVersionOID") in oids(doc, "MetaDataVersion")


@pytest.mark.parametrize("make", DATASETS)
def test_every_coded_value_is_in_its_code_list(dataset: Dataset, make: Any) -> None:
    doc = parse(dataset if make is None else make())
    code_lists = {
        cl.get("OID"): {i.get("CodedValue") for i in cl.iterfind("odm:EnumeratedItem", NS)}
        for cl in doc.iterfind(".//odm:CodeList", NS)
    }
    allowed: dict[str, set[str]] = {}
    for item in doc.iterfind(".//odm:ItemDef", NS):
        ref = item.find("odm:CodeListRef", NS)
        if ref is not None:
            allowed[item.get("OID")] = code_lists[ref.get("CodeListOID")]
    for model in ENTITIES:  # lists (symptoms): every element is in the enum's code list
        for column in columns(model):
            if column.kind == "list" and column.enum is not None:
                allowed[item_oid(model, column.name)] = code_lists[code_list_oid(column.enum)]

    checked = 0
    for item in doc.iterfind(".//odm:ItemData", NS):
        codes = allowed.get(item.get("ItemOID"))
        if codes is not None:
            assert set(item.get("Value").split(";")) <= codes, item.get("ItemOID")
            checked += 1
    assert checked > 0


# -- counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", DATASETS)
def test_one_subject_per_patient_and_one_item_group_per_record(dataset: Dataset, make: Any) -> None:
    data = dataset if make is None else make()
    doc = parse(data)

    subjects = [s.get("SubjectKey") for s in doc.iterfind(".//odm:SubjectData", NS)]
    assert subjects == [p.patient_id for p in data.patients]
    clinical = Counter(values_list(doc, ".//odm:ClinicalData//odm:ItemGroupData", "ItemGroupOID"))
    reference = Counter(values_list(doc, ".//odm:ReferenceData/odm:ItemGroupData", "ItemGroupOID"))
    expected = Counter(
        {item_group_oid(m): len(data.records(m)) for m in ENTITIES if m is not Centre}
    )
    assert clinical == +expected
    assert reference == Counter({item_group_oid(Centre): len(data.centres)})
    assert len(doc.findall(".//odm:AdminData/odm:Location", NS)) == len(data.centres)


def test_records_belong_to_the_subject_they_reference(dataset: Dataset) -> None:
    doc = parse(dataset)

    def groups(subject: str, model: type[Record]) -> list[str]:
        path = (
            f".//odm:SubjectData[@SubjectKey='{subject}']//odm:ItemGroupData"
            f"[@ItemGroupOID='{item_group_oid(model)}']"
        )
        return values_list(doc, path, "ItemGroupRepeatKey")

    assert groups("P1", Lesion) == ["P1-L1", "P1-L2"]
    assert groups("P1", Application) == ["P1-S1-A1", "P1-S1-A2"]
    assert groups("P2", Application) == ["P2-S1-A1"]
    assert groups("P1", Assessment) == ["P1-L1-V1", "P1-L1-V2", "P1-L2-V1"]
    patient_groups = doc.findall(
        f".//odm:ItemGroupData[@ItemGroupOID='{item_group_oid(Patient)}']", NS
    )
    assert [g.get("ItemGroupRepeatKey") for g in patient_groups] == [None, None]
    site_refs = values_list(doc, ".//odm:SubjectData/odm:SiteRef", "LocationOID")
    assert site_refs == ["LOC.C01", "LOC.C02"]


# -- metadata derived from the data model ----------------------------------------------


def test_metadata_is_derived_from_the_data_model(dataset: Dataset) -> None:
    doc = parse(dataset)
    item_defs = {i.get("OID"): i for i in doc.iterfind(".//odm:ItemDef", NS)}

    assert doc.find(".//odm:MetaDataVersion", NS).get("OID") == f"MDV.{SCHEMA_VERSION}"
    assert [u.get("Name") for u in doc.iterfind(".//odm:MeasurementUnit", NS)] == units()
    assert {"mm", "IU", "mg", "V", "A", "cm"} <= set(units())
    for model in ENTITIES:
        group = doc.find(f".//odm:ItemGroupDef[@OID='{item_group_oid(model)}']", NS)
        assert group.get("Repeating") == ("No" if model is Patient else "Yes")
        refs = group.findall("odm:ItemRef", NS)
        assert [r.get("ItemOID") for r in refs] == [item_oid(model, c.name) for c in columns(model)]
        for ref, column in zip(refs, columns(model), strict=True):
            assert ref.get("Mandatory") == ("Yes" if column.required else "No")
            assert ref.get("KeySequence") == ("1" if column.name == model.id_field else None)
            item = item_defs[ref.get("ItemOID")]
            assert item.get("Name") == column.name
            assert item.get("DataType") == DATA_TYPES[column.kind]
            unit_refs = values_list(item, "odm:MeasurementUnitRef", "MeasurementUnitOID")
            expected_units = column.unit.split("|") if column.unit else []
            assert unit_refs == [measurement_unit_oid(u) for u in expected_units]
            code_list = item.find("odm:CodeListRef", NS)
            if column.enum is not None and column.kind == "enum":
                assert code_list.get("CodeListOID") == code_list_oid(column.enum)
            else:
                assert code_list is None
            checks = {
                c.get("Comparator"): c.findtext("odm:CheckValue", namespaces=NS)
                for c in item.iterfind("odm:RangeCheck", NS)
            }
            bounds = {
                comparator: getattr(column, name)
                for name, comparator in (("gt", "GT"), ("ge", "GE"), ("lt", "LT"), ("le", "LE"))
                if getattr(column, name) is not None and column.kind in ("int", "float")
            }
            assert {k: float(v) for k, v in checks.items()} == {
                k: float(v) for k, v in bounds.items()
            }
            if column.description:
                description = item.findtext("odm:Description/odm:TranslatedText", namespaces=NS)
                assert description.startswith(column.description)


def test_code_lists_are_the_enumerations(dataset: Dataset) -> None:
    doc = parse(dataset)
    enums = {c.enum for m in ENTITIES for c in columns(m) if c.enum is not None}

    assert oids(doc, "CodeList") == {code_list_oid(e) for e in enums}
    for enum in enums:
        cl = doc.find(f".//odm:CodeList[@OID='{code_list_oid(enum)}']", NS)
        assert values_list(cl, "odm:EnumeratedItem", "CodedValue") == [m.value for m in enum]


# -- values ----------------------------------------------------------------------------


def test_values_are_the_csv_cells(dataset: Dataset, tmp_path: Path) -> None:
    """Every ItemData is the CSV cell of the same record and column (times with seconds)."""
    folder = write_dataset(dataset, tmp_path / "csv")
    doc = parse(dataset)
    compared = 0
    for model in ENTITIES:
        with open(folder / file_name(model), encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            key = row[model.id_field]
            group_xpath = f"odm:ItemGroupData[@ItemGroupOID='{item_group_oid(model)}']"
            if model is Patient:
                xpath = f".//odm:SubjectData[@SubjectKey='{key}']//{group_xpath}"
            else:
                xpath = f".//{group_xpath}[@ItemGroupRepeatKey='{key}']"
            (group,) = doc.findall(xpath, NS)
            items = {i.get("ItemOID"): i.get("Value") for i in group.iterfind("odm:ItemData", NS)}
            for column in columns(model):
                cell = row[column.name]
                value = items.get(item_oid(model, column.name))
                if cell == "":
                    assert value is None, (model.table, key, column.name)
                    continue
                assert value is not None, (model.table, key, column.name)
                if column.kind == "time":
                    assert dt.time.fromisoformat(value) == dt.time.fromisoformat(cell)
                    assert len(value) == 8
                else:
                    assert value == cell, (model.table, key, column.name)
                compared += 1
    assert compared > 100


def test_dose_unit_depends_on_the_drug(dataset: Dataset) -> None:
    dataset.sessions[1] = replace(dataset.sessions[1], drug=Drug.CISPLATIN, dose=20.0)
    doc = parse(dataset)
    doses = doc.iterfind(f".//odm:ItemData[@ItemOID='{item_oid(Session, 'dose')}']", NS)

    units_used = [
        (d.get("Value"), d.find("odm:MeasurementUnitRef", NS).get("MeasurementUnitOID"))
        for d in doses
    ]
    assert units_used == [("25500.0", "MU.IU"), ("20.0", "MU.mg")]


def test_floats_never_use_exponent_notation(dataset: Dataset, odm_schema: etree.XMLSchema) -> None:
    dataset.applications[0] = replace(dataset.applications[0], current_a=0.00001)
    doc = parse(dataset)
    oid = item_oid(Application, "current_a")

    assert doc.find(f".//odm:ItemData[@ItemOID='{oid}']", NS).get("Value") == "0.00001"
    assert odm_schema.validate(doc)


def test_text_is_escaped(dataset: Dataset, odm_schema: etree.XMLSchema) -> None:
    reason = 'necrotic <centre> & "crust"\nconfirmed'
    dataset.assessments[2] = replace(dataset.assessments[2], override_reason=reason)
    doc = parse(dataset)
    oid = item_oid(Assessment, "override_reason")

    assert doc.find(f".//odm:ItemData[@ItemOID='{oid}']", NS).get("Value") == reason
    assert odm_schema.validate(doc)


# -- files -----------------------------------------------------------------------------


def test_same_dataset_and_time_give_the_same_bytes(dataset: Dataset, tmp_path: Path) -> None:
    first = write_odm(dataset, tmp_path / "a.xml", created=CREATED).read_bytes()
    second = write_odm(dataset, tmp_path / "b.xml", created=CREATED).read_bytes()
    later = dataset_to_odm(dataset, CREATED + dt.timedelta(days=1))

    assert first == second
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<ODM ")
    assert later != first


def test_creation_time_defaults_to_now(dataset: Dataset) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = etree.fromstring(dataset_to_odm(dataset)).get("CreationDateTime")
    assert before <= dt.datetime.fromisoformat(stamp) <= dt.datetime.now(dt.UTC)


def with_safety_columns(dataset: Dataset) -> Dataset:
    """The small dataset with the columns of schema 1.1 filled in, calcium chloride for P2."""
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
        dataset.sessions[1],
        drug=Drug.CALCIUM_CHLORIDE,
        dose=4.5,
        pain_during_nrs=3,
        pain_after_nrs=1,
        analgesia=["local_anaesthetic"],
    )
    dataset.systemic_therapies[0] = replace(
        dataset.systemic_therapies[0], agent_class="ect_elsewhere", bleomycin_iu=27_000.0
    )
    return dataset


def test_the_schema_1_1_columns_are_items_and_the_file_stays_valid(
    dataset: Dataset, odm_schema: etree.XMLSchema
) -> None:
    doc = parse(with_safety_columns(dataset))
    assert odm_schema.validate(doc), odm_schema.error_log

    def item(model: type[Record], name: str) -> list[tuple[str | None, str | None]]:
        found = doc.iterfind(f".//odm:ItemData[@ItemOID='{item_oid(model, name)}']", NS)
        refs = [(d.get("Value"), d.find("odm:MeasurementUnitRef", NS)) for d in found]
        return [(v, None if r is None else r.get("MeasurementUnitOID")) for v, r in refs]

    # one unit: named by the ItemDef; the session dose's unit by each ItemData
    assert item(Patient, "dlco_percent_predicted") == [("78.5", None)]
    definition = doc.find(
        f".//odm:ItemDef[@OID='{item_oid(Patient, 'dlco_percent_predicted')}']", NS
    )
    unit = definition.find("odm:MeasurementUnitRef", NS).get("MeasurementUnitOID")
    assert unit == "MU.percent"
    assert item(Patient, "dlco_date") == [("2020-02-20", None)]
    assert item(Patient, "chest_imaging_date") == [("2020-02-10", None)]
    assert item(Session, "pain_during_nrs") == [("3", None)]
    assert item(Session, "pain_after_nrs") == [("2", None), ("1", None)]
    assert item(Session, "analgesia") == [
        ("paracetamol_nsaid;opioid", None), ("local_anaesthetic", None),
    ]  # fmt: skip
    assert item(Session, "dose") == [("25500.0", "MU.IU"), ("4.5", "MU.mL")]
    assert item(SystemicTherapy, "bleomycin_iu") == [("27000.0", None)]
    assert {"MU.percent", "MU.mL"} <= oids(doc, "MeasurementUnit")
    assert measurement_unit_oid("%") == "MU.percent"
    drugs = doc.find(f".//odm:CodeList[@OID='{code_list_oid(Drug)}']", NS)
    assert "calcium_chloride" in values_list(drugs, "odm:EnumeratedItem", "CodedValue")
