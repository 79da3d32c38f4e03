"""The site's static files, collected (and compressed) into ``STATIC_ROOT`` only when
they changed.

``collectstatic`` with WhiteNoise's compressed storage compresses every file again on
each run, about 14 s on 2 cores even with nothing to copy; ``openect serve`` runs it at
each start. :func:`collect_static` first compares a fingerprint of the source files
(path, size and modification time of every file the static file finders list) with the
one stored beside the collected files at the last collection, and skips the work when
they are equal.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: File beside the collected static files holding the fingerprint of their sources.
STAMP = ".openect-static-fingerprint"


def fingerprint() -> str:
    """SHA-256 of (path, size, modification time) of every source static file."""
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    entries = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            found = os.stat(storage.path(path))
            entries.append(f"{path}\0{found.st_size}\0{found.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def collect_static() -> bool:
    """Collect the static files into ``STATIC_ROOT`` unless they are as at the last
    collection there; True when collected."""
    from django.conf import settings
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    stamp = root / STAMP
    now = fingerprint()
    if stamp.is_file() and stamp.read_text(encoding="ascii").strip() == now:
        return False
    call_command("collectstatic", verbosity=0, interactive=False)
    stamp.write_text(now + "\n", encoding="ascii")
    return True
