"""``openect registry void`` and ``unvoid`` end to end, in their own processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def openect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openect", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
        check=False,
    )


def test_void_and_unvoid_from_the_command_line(dataset_dir: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    db = ("--database", url)
    assert openect("registry", "init", *db).returncode == 0
    assert openect("registry", "import", str(dataset_dir), *db).returncode == 0

    voided = openect("registry", "void", "sessions", "P1-S1", "--reason", "wrong patient", *db)
    assert voided.returncode == 0, voided.stderr
    assert "Voided sessions P1-S1 and 3 record(s) with it" in voided.stdout
    out = tmp_path / "export"
    assert openect("registry", "export", str(out), *db).returncode == 0
    assert "P1-S1" not in (out / "sessions.csv").read_text(encoding="utf-8")

    for bad, message in (
        (("centres", "C01", "--reason", "x"), "TABLE='centres': allowed patients"),
        (("sessions", "P1-S1", "--reason", " "), "reason"),
        (("sessions", "P1-S1"), "--reason"),
    ):
        refused = openect("registry", "void", *bad, *db)
        assert refused.returncode == 2, (bad, refused.stderr)
        assert message in refused.stderr, (bad, refused.stderr)

    restored = openect(
        "registry", "unvoid", "sessions", "P1-S1", "--reason", "right patient", "--json", *db
    )
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["restored"][0] == {
        "table": "sessions",
        "record_id": "P1-S1",
    }
