"""Export: the actor's scope of the registry as a ZIP of the CSV dataset.

GET shows what the export holds; POST (the download button, CSRF-protected) returns
``openect-export-<scope>-<YYYY-MM-DD>.zip`` with the files of
:func:`openect.data.csvio.write_dataset` (``dataset.json`` and one CSV per table, at the
root of the archive) for :func:`openect.registry.transfer.export_dataset`: one centre
for clinicians and data managers, every centre for analysts (free text blanked) and
administrators. The same files as ``openect registry export`` (without
``--round-trip``): written for spreadsheets, text cells that a spreadsheet would run as
a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) start with ``'``.
Each download is logged in the access log and the audit trail (action ``export``) before
it is made.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from openect.data.csvio import write_dataset
from openect.data.dataset import Dataset
from openect.data.models import ENTITIES
from openect.data.schema import file_name
from openect.registry import services
from openect.registry.access import Actor
from openect.registry.access_log import Channel, record_export
from openect.registry.transfer import export_dataset
from openect.web.access_log import client_address
from openect.web.pages.common import allow, with_actor


def scope_label(actor: Actor) -> str:
    """``C01`` for a centre user, ``all-centres`` for pooled roles (used in the file name)."""
    return "all-centres" if actor.pooled else str(actor.centre_id)


def export_filename(actor: Actor) -> str:
    """``openect-export-<scope>-<date>.zip`` (the server's local date)."""
    return f"openect-export-{scope_label(actor)}-{timezone.localdate().isoformat()}.zip"


def dataset_zip(dataset: Dataset) -> bytes:
    """The dataset's CSV folder (``write_dataset(..., for_people=True)``) as ZIP bytes."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="openect-export-") as temporary:
        folder = write_dataset(dataset, Path(temporary) / "dataset", for_people=True)
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.iterdir()):
                archive.write(path, arcname=path.name)
    return buffer.getvalue()


@allow("GET", "POST")
@with_actor
def export(request: HttpRequest, *, actor: Actor) -> HttpResponse:
    """GET: the export page with the row counts; POST: the ZIP download."""
    if request.method == "POST":
        dataset = export_dataset(actor)
        # in the access log and the audit trail first: an export not logged is not made
        record_export(
            actor, Channel.PAGE, client_address(request), dataset.counts(), "csv zip for people"
        )
        content = dataset_zip(dataset)
        response = HttpResponse(content, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="{export_filename(actor)}"'
        response["Cache-Control"] = "no-store"
        return response
    counts = [(file_name(record), services.count(actor, record)) for record in ENTITIES]
    return render(
        request,
        "web/audit_export.html",
        {
            "counts": counts,
            "filename": export_filename(actor),
            "pooled": actor.pooled,
            "free_text": actor.sees_free_text,
        },
    )
