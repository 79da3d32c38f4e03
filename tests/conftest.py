"""Shared fixtures: a small, hand-written, valid dataset that tests can break on purpose."""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from openect.data.csvio import write_dataset
from openect.data.dataset import Dataset, DatasetInfo
from openect.data.enums import (
    AgentClass,
    Anaesthesia,
    AssessmentMethod,
    BodySite,
    BrafStatus,
    Drug,
    Layer,
    PrimaryTumour,
    Route,
    Sex,
    Symptom,
)
from openect.data.models import (
    AdverseEvent,
    Application,
    Assessment,
    Centre,
    Lesion,
    Patient,
    PatientReported,
    Session,
    SystemicTherapy,
)

D = dt.date

#: Everything a test process writes outside its tmp_path (the footprint cache, static
#: files, the registry's SQLite files, dask's scratch space, any temporary file of the
#: code under test or of the programs it starts) lies in one folder per process, removed
#: when the process ends: a run leaves nothing behind in the temporary directory.
SCRATCH = Path(tempfile.mkdtemp(prefix="openect-tests-"))
tempfile.tempdir = str(SCRATCH)
os.environ["TMPDIR"] = str(SCRATCH)
os.environ["DASK_TEMPORARY_DIRECTORY"] = str(SCRATCH / "dask")
#: Footprints computed by the tests are cached for the test run only, not in the user's
#: cache directory.
os.environ["OPENECT_CACHE_DIR"] = str(SCRATCH / "cache")


def _remove_scratch() -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)


atexit.register(_remove_scratch)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove this process's scratch folder (xdist workers may end without atexit)."""
    _remove_scratch()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Each test reads the settings anew (tests change OPENECT_* variables)."""
    from openect.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def small_dataset() -> Dataset:
    """Two centres, two melanoma patients, three lesions, one session each, follow-up."""
    ds = Dataset(info=DatasetInfo(description="hand-written test dataset"))
    ds.centres = [
        Centre(centre_id="C01", name="Test centre one", country="GB"),
        Centre(centre_id="C02", name="Test centre two", country="SI"),
    ]
    ds.patients = [
        Patient(
            patient_id="P1",
            centre_id="C01",
            sex=Sex.F,
            birth_year=1950,
            primary_tumour=PrimaryTumour.MELANOMA,
            stage="IIIC",
            braf_status=BrafStatus.MUTANT,
            ecog=1,
            visceral_metastases=False,
            last_contact_date=D(2021, 6, 1),
        ),
        Patient(
            patient_id="P2",
            centre_id="C02",
            sex=Sex.M,
            birth_year=1940,
            primary_tumour=PrimaryTumour.MELANOMA,
            stage="IV-M1c",
            braf_status=BrafStatus.WILDTYPE,
            ecog=2,
            visceral_metastases=True,
            last_contact_date=D(2020, 9, 1),
            death_date=D(2020, 9, 1),
            death_cause="melanoma",
        ),
    ]
    ds.lesions = [
        Lesion(
            lesion_id="P1-L1",
            patient_id="P1",
            body_site=BodySite.LOWER_LIMB_LEFT,
            layer=Layer.CUTANEOUS,
            baseline_date=D(2020, 3, 1),
            longest_diameter_mm=12.0,
            perpendicular_diameter_mm=9.5,
            thickness_mm=4.0,
            ulcerated=True,
            bleeding=False,
            previously_irradiated=False,
            symptoms=[Symptom.PAIN, Symptom.EXUDATE],
        ),
        Lesion(
            lesion_id="P1-L2",
            patient_id="P1",
            body_site=BodySite.LOWER_LIMB_LEFT,
            layer=Layer.SUBCUTANEOUS,
            baseline_date=D(2020, 3, 1),
            longest_diameter_mm=35.0,
            perpendicular_diameter_mm=30.0,
            thickness_mm=15.0,
        ),
        Lesion(
            lesion_id="P2-L1",
            patient_id="P2",
            body_site=BodySite.TRUNK_POSTERIOR,
            layer=Layer.CUTANEOUS,
            baseline_date=D(2020, 4, 20),
            longest_diameter_mm=8.0,
        ),
    ]
    ds.sessions = [
        Session(
            session_id="P1-S1",
            patient_id="P1",
            session_date=D(2020, 3, 2),
            session_number=1,
            anaesthesia=Anaesthesia.GENERAL,
            drug=Drug.BLEOMYCIN,
            route=Route.INTRAVENOUS,
            dose=25_500.0,
            dose_per_m2=15_000.0,
            bsa_m2=1.7,
            height_cm=165.0,
            weight_kg=63.0,
            creatinine_clearance_ml_min=61.5,
            bolus_end_time=dt.time(9, 5),
            rule_set="esope-2006",
            operator="OP-C01-1",
        ),
        Session(
            session_id="P2-S1",
            patient_id="P2",
            session_date=D(2020, 4, 21),
            session_number=1,
            anaesthesia=Anaesthesia.LOCAL,
            drug=Drug.BLEOMYCIN,
            route=Route.INTRATUMOURAL,
            dose=250.0,
            bolus_end_time=dt.time(14, 0, 30),
        ),
    ]
    ds.applications = [
        Application(
            application_id="P1-S1-A1",
            session_id="P1-S1",
            lesion_id="P1-L1",
            time=dt.time(9, 15),
            electrode="linear:N-10-4B",
            voltage_v=400.0,
            pulses=8,
            frequency_hz=5000.0,
            pulse_duration_us=100.0,
            current_a=2.4,
            complete=True,
        ),
        Application(
            application_id="P1-S1-A2",
            session_id="P1-S1",
            lesion_id="P1-L2",
            time=dt.time(9, 16),
            electrode="hexagonal",
            voltage_v=730.0,
            pulses=96,
            frequency_hz=5000.0,
            pulse_duration_us=100.0,
            current_a=6.1,
            complete=False,
        ),
        Application(
            application_id="P2-S1-A1",
            session_id="P2-S1",
            lesion_id="P2-L1",
            electrode="plate",
        ),
    ]
    ds.assessments = [
        Assessment(
            assessment_id="P1-L1-V1",
            lesion_id="P1-L1",
            assessment_date=D(2020, 4, 5),
            longest_diameter_mm=6.0,
            perpendicular_diameter_mm=4.0,
            method=AssessmentMethod.CALIPER,
            assessor="AS-1",
        ),
        Assessment(
            assessment_id="P1-L1-V2",
            lesion_id="P1-L1",
            assessment_date=D(2020, 5, 1),
            longest_diameter_mm=0.0,
            perpendicular_diameter_mm=0.0,
            method=AssessmentMethod.PHOTO,
        ),
        Assessment(
            assessment_id="P1-L2-V1",
            lesion_id="P1-L2",
            assessment_date=D(2020, 5, 1),
            longest_diameter_mm=30.0,
            override_response="PR",
            override_reason="necrotic centre confirmed by ultrasound",
        ),
    ]
    ds.adverse_events = [
        AdverseEvent(
            event_id="AE1",
            patient_id="P1",
            session_id="P1-S1",
            onset_date=D(2020, 3, 3),
            term="Pain",
            grade=2,
            serious=False,
        ),
    ]
    ds.patient_reported = [
        PatientReported(
            report_id="PR1",
            patient_id="P1",
            report_date=D(2020, 3, 2),
            pain_nrs=5,
            eq5d_mobility=1,
            eq5d_selfcare=1,
            eq5d_activity=2,
            eq5d_pain=2,
            eq5d_anxiety=1,
            eq_vas=70,
        ),
    ]
    ds.systemic_therapies = [
        SystemicTherapy(
            therapy_id="T1",
            patient_id="P1",
            agent_class=AgentClass.ANTI_PD1,
            agent="pembrolizumab",
            start_date=D(2020, 2, 1),
        ),
    ]
    return ds


@pytest.fixture
def dataset() -> Dataset:
    """A fresh copy of the small valid dataset."""
    return small_dataset()


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    """The small valid dataset written as a CSV folder."""
    return write_dataset(small_dataset(), tmp_path / "small")


# ----------------------------------------------------------------- registry (Django)
#: Set to "postgresql" to run the registry tests on OPENECT_TEST_DATABASE_URL.
BACKEND_ENV = "OPENECT_REGISTRY_TEST_BACKEND"
#: SQLite file of the registry tests (a real file, so that tests can read its bytes).
SQLITE_TEST_FILE = SCRATCH / "openect-registry-test.sqlite3"


def registry_test_url() -> str:
    """Database the registry tests run on: SQLite by default, PostgreSQL on request."""
    if os.environ.get(BACKEND_ENV) == "postgresql":
        url = os.environ.get("OPENECT_TEST_DATABASE_URL")
        if not url:
            raise pytest.UsageError(f"{BACKEND_ENV}=postgresql needs OPENECT_TEST_DATABASE_URL")
        return url
    return f"sqlite:///{SQLITE_TEST_FILE.with_suffix('.base.sqlite3')}"


def pytest_configure(config: pytest.Config) -> None:
    """Configure Django for the registry and web tests (pytest-django makes the test database)."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    os.environ.setdefault("OPENECT_SECRET_KEY", "openect-tests-only-" + "x" * 40)
    from openect.web.settings import build_settings

    static_root = SCRATCH / "static"
    static_root.mkdir(exist_ok=True)
    options = build_settings(
        registry_test_url(),
        debug=False,
        https=False,
        static_root=static_root,
        allowed_hosts=["testserver", "localhost", "127.0.0.1"],  # Django's test client
    )
    # Sign-in throttling off for the suite: Django's Client.login authenticates without a
    # request, which django-axes refuses; tests/test_web_signin.py turns it on, and the
    # browser tests (a real server) run with it.
    options["AXES_ENABLED"] = False
    database = options["DATABASES"]["default"]
    if database["ENGINE"].endswith("sqlite3"):
        database["TEST"] = {"NAME": str(SQLITE_TEST_FILE)}
    settings.configure(**options)
    django.setup()
    _flush_past_the_audit_truncate_trigger()


#: The audit table's trigger refusing ``TRUNCATE`` on PostgreSQL (migration 0003).
AUDIT_TRUNCATE_TRIGGER = "openect_audit_no_truncate"


def _flush_past_the_audit_truncate_trigger() -> None:
    """Let the test database's flush (``TRUNCATE`` of every table, PostgreSQL) empty the
    append-only audit table: its ``TRUNCATE`` trigger is disabled for that statement
    only, in the flush's own transaction (the test role owns the tables)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
        if self.connection.vendor == "postgresql" and any("openect_audit" in s for s in sql_list):
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_trigger WHERE tgname = %s", [AUDIT_TRUNCATE_TRIGGER]
                )
                if cursor.fetchone() is not None:
                    sql_list = [
                        f"ALTER TABLE openect_audit DISABLE TRIGGER {AUDIT_TRUNCATE_TRIGGER}",
                        *sql_list,
                        f"ALTER TABLE openect_audit ENABLE TRIGGER {AUDIT_TRUNCATE_TRIGGER}",
                    ]
        original(self, sql_list)

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush


# ----------------------------------------------------------------- markers
#: Test modules whose tests need PostgreSQL (they skip without OPENECT_TEST_DATABASE_URL).
POSTGRESQL_MODULES = frozenset({"test_registry_postgresql"})
#: Words in a test's source that mean it drives a real browser.
BROWSER_WORDS = ("sync_playwright", "chromium")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """Mark browser and PostgreSQL tests, so that ``pytest -m "not browser"`` and the like
    select a fast subset (``slow`` is marked on the tests themselves); then, after the
    other hooks (pytest-django's ordering), on an xdist worker, send the test files with
    slow tests out first (see :func:`_slow_files_first`)."""
    import inspect

    for item in items:
        function = getattr(item, "function", None)
        module = getattr(item, "module", None)
        names = set(getattr(item, "fixturenames", ()))
        source = inspect.getsource(function) if function is not None else ""
        if "browser" in names or any(word in source for word in BROWSER_WORDS):
            item.add_marker(pytest.mark.browser)
        if module is not None and module.__name__.rsplit(".", 1)[-1] in POSTGRESQL_MODULES:
            item.add_marker(pytest.mark.postgresql)
        if os.environ.get(BACKEND_ENV) == "postgresql":
            item.add_marker(pytest.mark.postgresql)
    yield
    if hasattr(config, "workerinput"):  # an xdist worker
        _slow_files_first(items)


def _slow_files_first(items: list[pytest.Item]) -> None:
    """Reorder ``items`` file by file: the files with the most slow or browser tests
    first, the others after them, each file's tests in their order (pytest-django's:
    database tests, then transactional ones, then the others).

    ``make unit`` runs ``--dist loadfile --no-loadscope-reorder``: xdist hands whole
    files out in this order as workers free up, so that the module fixtures (a demo run,
    a server, a browser, a registry) are set up once and the longest files start first,
    and the workers end together. (``--dist loadgroup`` would not group: pytest-xdist
    3.8 names the groups through ``item._nodeid``, which pytest 9 no longer reads.)"""
    files: dict[str, list[pytest.Item]] = {}
    for item in items:
        files.setdefault(item.nodeid.split("::", 1)[0], []).append(item)

    def heavy(item: pytest.Item) -> bool:
        return bool(item.get_closest_marker("slow") or item.get_closest_marker("browser"))

    ordered = sorted(files.values(), key=lambda tests: -sum(map(heavy, tests)))  # stable
    items[:] = [item for tests in ordered for item in tests]
