"""``openect registry`` end to end, each command in its own process on its own SQLite file
(copies of one registry made by ``openect registry init`` in this module)."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openect.data.csvio import write_dataset
from openect.synth import generate_cohort


def openect(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )


def same_folders(left: Path, right: Path) -> None:
    names = sorted(p.name for p in left.iterdir())
    assert names == sorted(p.name for p in right.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    assert not mismatch, mismatch
    assert not errors, errors


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(
        generate_cohort(30, centres=2, seed=8), tmp_path_factory.mktemp("d") / "ds"
    )


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry file made by ``openect registry init``, once for the module: the tests
    start from copies of it (a SQLite registry is its one file)."""
    path = tmp_path_factory.mktemp("initialised") / "registry.sqlite3"
    done = openect("registry", "init", "--database", f"sqlite:///{path}")
    assert done.returncode == 0, done.stderr
    assert "Registry ready" in done.stdout
    return path


@pytest.fixture(scope="module")
def imported(
    initialised: Path, dataset_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A copy of ``initialised`` into which ``openect registry import`` loaded ``dataset_dir``."""
    path = tmp_path_factory.mktemp("imported") / "registry.sqlite3"
    url = copy_of(initialised, path)
    done = openect("registry", "import", str(dataset_dir), "--database", url, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] is True
    return path


def copy_of(registry: Path, path: Path) -> str:
    """Copy the registry file ``registry`` to ``path``; the copy's database URL."""
    shutil.copyfile(registry, path)
    return f"sqlite:///{path}"


@pytest.mark.slow
def test_init_import_export_backup_restore_round_trip(
    dataset_dir: Path, initialised: Path, imported: Path, tmp_path: Path
) -> None:
    # init and import: the fixtures (each command in its own process, checked there)
    first = copy_of(imported, tmp_path / "first.sqlite3")
    second = copy_of(initialised, tmp_path / "second.sqlite3")
    again = json.loads(openect("registry", "import", str(dataset_dir), "--json",
                               DATABASE_URL=first).stdout)  # fmt: skip
    assert again["total_created"] == again["total_updated"] == 0
    exported = openect("registry", "export", str(tmp_path / "out"), "--round-trip",
                       "--database", first)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    same_folders(dataset_dir, tmp_path / "out")

    backup = tmp_path / "registry-backup.json.gz"
    assert openect("registry", "backup", str(backup), "--database", first).returncode == 0
    restored = openect("registry", "restore", str(backup), "--database", second, "--json")
    assert restored.returncode == 0, restored.stderr
    assert (
        openect(
            "registry", "export", str(tmp_path / "out2"), "--round-trip", "--database", second
        ).returncode
        == 0
    )
    same_folders(dataset_dir, tmp_path / "out2")
    trail = json.loads(openect("registry", "audit", "--database", second, "--json",
                               "--limit", "0").stdout)  # fmt: skip
    original = json.loads(openect("registry", "audit", "--database", first, "--json",
                                  "--limit", "0").stdout)  # fmt: skip
    assert trail["total"] == original["total"] + 2  # plus the restore and the export after it
    assert [e["action"] for e in trail["entries"][-2:]] == ["restore", "export"]
    strip = [{k: v for k, v in e.items() if k != "id"} for e in original["entries"]]
    assert [{k: v for k, v in e.items() if k != "id"} for e in trail["entries"][:-2]] == strip
    again = openect("registry", "restore", str(backup), "--database", second)
    assert again.returncode == 2
    assert "restore needs an empty registry" in again.stderr


@pytest.mark.slow
def test_an_invalid_dataset_is_reported_and_nothing_imported(
    dataset_dir: Path, initialised: Path, tmp_path: Path
) -> None:
    url = copy_of(initialised, tmp_path / "r.sqlite3")
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in dataset_dir.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    lines = (broken / "assessments.csv").read_text().splitlines()
    cells = lines[3].split(",")
    cells[3] = "-7"  # longest_diameter_mm
    lines[3] = ",".join(cells)
    (broken / "assessments.csv").write_text("\n".join(lines) + "\n")
    done = openect("registry", "import", str(broken), "--database", url, "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["imported"] is False
    assert report["errors"][0]["file"] == "assessments.csv"
    assert report["errors"][0]["row"] == 4
    status = json.loads(openect("registry", "status", "--database", url, "--json").stdout)
    assert set(status["counts"].values()) == {0}


@pytest.mark.slow
def test_fhir_and_odm_exports(imported: Path, tmp_path: Path) -> None:
    url = copy_of(imported, tmp_path / "r.sqlite3")
    fhir = openect("registry", "export", str(tmp_path / "fhir"), "--format", "fhir",
                   "--database", url, "--json")  # fmt: skip
    assert fhir.returncode == 0, fhir.stderr
    bundle = json.loads(Path(json.loads(fhir.stdout)["path"]).read_text())
    assert bundle["resourceType"] == "Bundle"
    odm = openect("registry", "export", str(tmp_path / "odm"), "--format", "odm",
                  "--database", url, "--json")  # fmt: skip
    assert odm.returncode == 0, odm.stderr
    assert b"<ODM" in Path(json.loads(odm.stdout)["path"]).read_bytes()


@pytest.mark.slow
def test_pseudonym_key_and_users(initialised: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "centre.key"
    assert openect("registry", "key", "--out", str(key_file)).returncode == 0
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert openect("registry", "key", "--out", str(key_file)).returncode == 2
    env = {"OPENECT_PSEUDONYM_KEY_FILE": str(key_file), "OPENECT_PSEUDONYM_KEY": ""}
    one = openect("registry", "pseudonym", "MRN-1", "--centre", "C01", **env)
    two = openect("registry", "pseudonym", "-", "--centre", "C01", stdin="mrn-1\n", **env)
    other = openect("registry", "pseudonym", "MRN-1", "--centre", "C02", **env)
    assert other.stdout != one.stdout
    assert one.returncode == 0
    assert one.stdout == two.stdout
    assert one.stdout.startswith("PX-")
    missing = openect("registry", "pseudonym", "MRN-1", "--centre", "C01", OPENECT_PSEUDONYM_KEY="",
                      OPENECT_PSEUDONYM_KEY_FILE=str(tmp_path / "none"))  # fmt: skip
    assert missing.returncode == 2
    assert "no pseudonymisation key" in missing.stderr

    url = copy_of(initialised, tmp_path / "r.sqlite3")
    made = openect(
        "registry", "user", "dr.lee", "--role", "clinician", "--centre", "C01",
        "--password-stdin", "--database", url, stdin="correct horse battery\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    bad = openect("registry", "user", "dr.x", "--role", "clinician", "--database", url)
    assert bad.returncode == 2
    assert "--centre: required for role clinician" in bad.stderr
    trail = json.loads(openect("registry", "audit", "--database", url, "--json").stdout)
    assert trail["entries"][-1]["entity"] == "users"
    assert "correct horse" not in json.dumps(trail)


@pytest.mark.slow
def test_errors_name_the_problem(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'never-initialised.sqlite3'}"
    done = openect("registry", "status", "--database", url)
    assert done.returncode == 2
    assert "not an OpenECT registry; create it with: openect registry init" in done.stderr
    done = openect("registry", "init", "--database", "mysql://root@localhost/x")
    assert done.returncode == 2
    assert "unsupported; allowed sqlite:///" in done.stderr
    done = openect("registry", "export", str(tmp_path), "--format", "xls", "--database", url)
    assert done.returncode == 2
    assert "--format=xls: unknown; allowed csv, fhir, odm" in done.stderr


@pytest.mark.slow
def test_csv_exports_are_for_people_unless_round_trip(initialised: Path, tmp_path: Path) -> None:
    """Text cells that a spreadsheet would run as formulas start with ' by default."""
    from openect.data.csvio import read_dataset

    cohort = generate_cohort(3, centres=1, seed=4)
    cohort.centres = [cohort.centres[0].model_copy(update={"name": "=1+2"})]
    url = copy_of(initialised, tmp_path / "r.sqlite3")
    source = write_dataset(cohort, tmp_path / "in")
    assert openect("registry", "import", str(source), "--database", url).returncode == 0
    assert (
        openect("registry", "export", str(tmp_path / "people"), "--database", url).returncode == 0
    )
    assert read_dataset(tmp_path / "people").centres[0].name == "'=1+2"
    exact = openect(
        "registry", "export", str(tmp_path / "exact"), "--round-trip", "--database", url
    )
    assert exact.returncode == 0, exact.stderr
    same_folders(source, tmp_path / "exact")
