"""Static files are collected at a server start only when they changed since the last."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from openect.web.static_files import STAMP, collect_static, fingerprint


def test_collected_once_then_again_only_after_a_change(settings: Any, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "site.css").write_text("body { color: black; }\n", encoding="utf-8")
    settings.STATICFILES_DIRS = [str(extra)]
    settings.STATIC_ROOT = str(tmp_path / "collected")
    # the uncompressed storage: the same collection, without the compression's time
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert collect_static() is True
    collected = tmp_path / "collected"
    assert (collected / "site.css").is_file()
    assert (collected / "web" / "openect.css").is_file()  # the site's own
    assert (collected / STAMP).read_text(encoding="ascii").strip() == fingerprint()
    assert collect_static() is False  # nothing changed

    before = fingerprint()
    (extra / "site.css").write_text("body { color: navy; }\n", encoding="utf-8")
    stat = (extra / "site.css").stat()
    os.utime(extra / "site.css", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert fingerprint() != before
    assert collect_static() is True
    assert "navy" in (collected / "site.css").read_text(encoding="utf-8")
    assert collect_static() is False
