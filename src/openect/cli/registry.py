"""``openect registry``: the multi-centre database (init, import, export, audit, backups).

Commands run as the local administrator (``cli:<login>`` in the audit trail) on the
database given by ``--database URL``, else ``DATABASE_URL``, else the embedded SQLite
file in the user's data directory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from openect.cli._output import CliError, emit_json, stderr, stdout, table
from openect.settings import masked_url

app = typer.Typer(
    help="Multi-centre ECT register: database, import/export (CSV, FHIR, ODM), audit, backups.",
    no_args_is_help=True,
)

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL: sqlite:///path/file.sqlite3 or postgresql://user@host/name "
        "(default: $DATABASE_URL, else the embedded SQLite file).",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
FORMATS = ("csv", "fhir", "odm")
ROLES = ("clinician", "data_manager", "analyst", "admin")


def _open(database: str | None, create: bool = False) -> str:
    """Configure Django for the registry database; refuse one that was never initialised."""
    from openect.registry.config import configure, database_url

    url = database_url(database)
    try:
        configure(url)
    except ValueError as error:
        raise CliError(f"--database: {error}") from error
    if not create:
        from django.db import connection
        from django.db.utils import OperationalError

        try:
            tables = connection.introspection.table_names()
        except OperationalError as error:
            raise CliError(f"--database {masked_url(url)}: cannot connect ({error})") from error
        if "openect_patients" not in tables:
            raise CliError(
                f"--database {masked_url(url)}: not an OpenECT registry; create it with: "
                "openect registry init"
            )
    return url


def _actor() -> Any:
    from openect.registry.access import Actor

    return Actor.command_line()


@app.command("init")
def init(database: Database = None, as_json: JsonFlag = False) -> int:
    """Create (or upgrade) the registry tables in the database."""
    url = _open(database, create=True)
    from openect.registry.config import migrate

    with stderr.status("Creating the registry tables...", spinner="dots"):
        migrate()
    if as_json:
        emit_json({"database": masked_url(url), "ready": True})
    else:
        stdout.print(f"Registry ready: {masked_url(url)}", soft_wrap=True)
    return 0


@app.command("status")
def status(database: Database = None, as_json: JsonFlag = False) -> int:
    """Rows per table and audit entries."""
    url = _open(database)
    from openect.data.models import ENTITIES
    from openect.registry.models import AuditEntry
    from openect.registry.records import registry_model

    counts = {r.table: registry_model(r).objects.count() for r in ENTITIES}
    counts["audit"] = AuditEntry.objects.count()
    if as_json:
        emit_json({"database": masked_url(url), "counts": counts})
    else:
        stdout.print(table(f"Registry {masked_url(url)}", ["table", "rows"], counts.items()))
    return 0


@app.command("import")
def import_(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Dataset folder (CSV).")],
    centre: Annotated[
        str | None,
        typer.Option(
            "--centre",
            help="Every patient must belong to this centre; rows of records stored for "
            "another centre are refused.",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (audit trail).")] = None,
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """Import a CSV dataset: all or nothing, every row audited, re-import changes nothing."""
    from openect.cli.data import print_report
    from openect.data.csvio import load_dataset

    if not directory.is_dir():
        raise CliError(f"DIR={str(directory)!r}: not a folder; a dataset is a folder of CSV files")
    _open(database)
    from openect.errors import AccessDeniedError
    from openect.registry.transfer import (
        ImportDeniedError,
        ImportRejectedError,
        import_dataset,
    )

    with stderr.status(f"Reading and validating {directory}...", spinner="dots"):
        dataset, report = load_dataset(directory)
    if not report.valid:
        if as_json:
            emit_json({"imported": False, **report.to_dict()})
        else:
            print_report(report, directory)
            stdout.print("[red]nothing imported[/red]")
        return 2
    try:
        with stderr.status("Importing (one transaction)...", spinner="dots"):
            summary = import_dataset(
                _actor(), dataset, centre_id=centre, reason=reason or f"import of {directory}"
            )
    except (ImportRejectedError, ImportDeniedError) as error:
        if as_json:
            emit_json({"imported": False, **error.report.to_dict()})
        else:
            print_report(error.report, directory)
            stdout.print("[red]nothing imported[/red]")
        return 2
    except AccessDeniedError as error:
        raise CliError(str(error)) from error
    result = summary.to_dict()
    if as_json:
        emit_json({"imported": True, **result})
    else:
        rows = [
            [name, summary.created[name], summary.updated[name], summary.unchanged[name]]
            for name in summary.created
        ]
        stdout.print(table("Imported", ["table", "created", "updated", "unchanged"], rows))
    return 0


@app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="New folder to write.")],
    format_: Annotated[
        str, typer.Option("--format", help="csv (the dataset), fhir (R4 bundle) or odm (1.3.2).")
    ] = "csv",
    round_trip: Annotated[
        bool,
        typer.Option(
            "--round-trip",
            help="CSV for another registry: every value exactly as stored (import gives the "
            "same registry). Default: for spreadsheets, text cells that would run as a "
            "formula (= + - @ first) start with '.",
        ),
    ] = False,
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """Export the registry: CSV dataset, FHIR R4 JSON bundle or CDISC ODM 1.3.2 XML.

    CSV files are written for people (safe to open in a spreadsheet) unless
    ``--round-trip`` asks for the exact values, to be imported again.
    """
    if format_ not in FORMATS:
        raise CliError(f"--format={format_}: unknown; allowed {', '.join(FORMATS)}")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise CliError(f"DIR={str(directory)!r}: exists and is not empty; choose a new folder")
    _open(database)
    from openect.data.csvio import write_dataset
    from openect.registry.access_log import Channel, record_export
    from openect.registry.transfer import export_dataset

    with stderr.status("Exporting...", spinner="dots"):
        actor = _actor()
        dataset = export_dataset(actor)
        what = format_ if format_ != "csv" else ("csv round-trip" if round_trip else "csv")
        # logged (access log and audit trail) before anything is written: an export
        # that cannot be logged is not made
        record_export(actor, Channel.CLI, None, dataset.counts(), f"{what} to {directory}")
        if format_ == "csv":
            write_dataset(dataset, directory, for_people=not round_trip)
            path = directory
        elif format_ == "fhir":
            from openect.exchange.fhir import write_bundle

            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "openect-fhir-bundle.json"
            write_bundle(dataset, path)
        else:
            from openect.exchange.odm import write_odm

            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "openect-odm.xml"
            write_odm(dataset, path)
    counts = dataset.counts()
    if as_json:
        emit_json(
            {
                "format": format_,
                "path": str(path),
                "counts": counts,
                "round_trip": round_trip if format_ == "csv" else None,
            }
        )
    else:
        stdout.print(f"Exported {sum(counts.values())} rows as {format_}: {path}", soft_wrap=True)
    return 0


@app.command("audit")
def audit(
    entity: Annotated[
        str | None, typer.Option("--entity", help="Only this record id (e.g. a lesion id).")
    ] = None,
    table_name: Annotated[
        str | None, typer.Option("--table", help="Only this table, e.g. lesions.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the last N entries.")] = 50,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the hash chain instead: name the first edited, missing or reordered "
            "entry (exit 2), else print the number of entries and the head digest (exit 0).",
        ),
    ] = False,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="With --verify: a head digest printed earlier and kept outside the database; "
            "exit 2 unless an entry of the trail still has it (entries removed from the end, "
            "or the trail rewritten).",
        ),
    ] = None,
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """The audit trail: who changed what, when, before and after, and why."""
    if head is not None and not verify:
        raise CliError("--head: only with --verify")
    if head is not None and not re.fullmatch(r"[0-9a-f]{64}", head):
        raise CliError(
            f"--head={head[:80]!r}: allowed: a SHA-256 digest, 64 hexadecimal digits "
            "(as `registry audit --verify` prints it)"
        )
    _open(database)
    if verify:
        return _verify_audit(as_json, head)
    from openect.registry.transfer import audit_entries

    if table_name is not None:
        from openect.registry.records import entity as entity_of

        try:
            table_name = entity_of(table_name).table
        except ValueError as error:
            raise CliError(f"--table: {error}") from error
    entries = audit_entries(entity=table_name, record_id=entity)
    shown = entries[-limit:] if limit > 0 else entries
    if as_json:
        emit_json({"entries": shown, "total": len(entries)})
        return 0
    rows = [
        [
            e["at"][:19],
            e["actor"],
            e["action"],
            e["entity"],
            e["record_id"],
            ", ".join(
                f"{k}: {(e['before'] or {}).get(k)} -> {v}"
                for k, v in (e["after"] or {}).items()
                if e["before"] is not None and (e["before"] or {}).get(k) != v
            )
            or ("" if e["action"] != "delete" else "deleted"),
            e["reason"] or "",
        ]
        for e in shown
    ]
    stdout.print(
        table(
            f"Audit trail ({len(shown)} of {len(entries)})",
            ["at (UTC)", "who", "action", "table", "record", "changes", "why"],
            rows,
            keys=["at (UTC)", "record"],
        )
    )
    return 0


def _verify_audit(as_json: bool, head: str | None = None) -> int:
    """``registry audit --verify``: walk the chain; 0 when intact, 2 when broken or when
    the kept ``head`` digest is no longer in the trail."""
    from openect.registry.models import verify_chain

    with stderr.status("Verifying the audit chain...", spinner="dots"):
        report = verify_chain(anchor=head)
    if as_json:
        emit_json(report.to_dict())
    elif report.broken is None and report.anchor_missing:
        stdout.print(
            f"[red]Audit trail changed[/red]: no entry has the head digest kept earlier "
            f"({head}); entries were removed from its end, or it was rewritten "
            f"({report.entries} entries now, head {report.head})",
            soft_wrap=True,
        )
    elif report.broken is None:
        if head is not None:
            stdout.print(
                f"The head digest kept earlier is entry {report.anchor_entry}'s: "
                "nothing before it was removed or rewritten.",
                soft_wrap=True,
            )
        stdout.print(
            f"Audit trail intact: {report.entries} entries; head digest {report.head} "
            "(keep it elsewhere to detect a trail rewritten from the start)",
            soft_wrap=True,
        )
    else:
        broken = report.broken
        stdout.print(
            f"[red]Audit trail broken[/red] at entry {broken.id} ({broken.entity} "
            f"{broken.record_id}): {broken.problem}: {broken.detail}",
            soft_wrap=True,
        )
    return 0 if report.intact else 2


@app.command("access-log")
def access_log(
    centre: Annotated[
        str | None,
        typer.Option("--centre", help="Only entries about this centre's data or by its users."),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's entries.")] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", help="Only this action (view, list, export, report, sign_in, ...)."
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this day on (YYYY-MM-DD, UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to this day, included (YYYY-MM-DD, UTC).")
    ] = None,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the entries to this new CSV file (for spreadsheets)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Show the newest N entries.")] = 50,
    purge: Annotated[
        bool,
        typer.Option(
            "--purge",
            help="Delete the entries older than OPENECT_ACCESS_LOG_DAYS whose retention has "
            "passed (the database refuses any other), and say how many.",
        ),
    ] = False,
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """The access log: who read which patient's data, when and from where; sign-ins,
    sign-outs and API tokens."""
    if csv_file is not None and csv_file.exists():
        raise CliError(f"--csv={str(csv_file)!r}: exists; choose a new file")
    _open(database)
    from openect.errors import InputError
    from openect.registry import access_log as log

    if purge:
        if any(v is not None for v in (centre, user, action, since, until, csv_file)):
            raise CliError("--purge: applies the retention to the whole log; give it alone")
        days = log.retention_days()
        removed = log.purge(days=days)
        if as_json:
            emit_json({"purged": removed, "retention_days": days})
        else:
            stdout.print(f"Purged {removed} access log entries older than {days} days")
        return 0
    try:
        filters = log.Filters.parse(
            {"user": user, "action": action, "centre": centre, "since": since, "until": until},
            {"action": "--action", "since": "--since", "until": "--until"},
        )
    except InputError as error:
        raise CliError(str(error)) from error
    if filters.centre:
        from openect.data.models import Centre
        from openect.registry.records import registry_model

        known = list(registry_model(Centre).objects.order_by("pk").values_list("pk", flat=True))
        if filters.centre not in known:
            raise CliError(
                f"--centre={filters.centre!r}: unknown centre; allowed "
                f"{', '.join(map(str, known)) or 'none (the registry holds no centre)'}"
            )
    entries = log.filter_entries(log.visible_entries(_actor()), filters)
    if csv_file is not None:
        with csv_file.open("x", encoding="utf-8", newline="") as stream:
            count = log.write_csv(entries.iterator(), stream)
        if as_json:
            emit_json({"csv": str(csv_file), "entries": count})
        else:
            stdout.print(f"Wrote {count} access log entries to {csv_file}", soft_wrap=True)
        return 0
    total = entries.count()
    shown = list(entries[:limit]) if limit > 0 else list(entries)
    if as_json:
        emit_json({"entries": [log.as_row(e) for e in shown], "total": total})
        return 0
    rows = [
        [
            e.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.role,
            e.action,
            e.entity,
            e.record_id or e.query,
            e.centre_id or "",
            e.address or "",
            e.channel,
        ]
        for e in shown
    ]
    stdout.print(
        table(
            f"Access log ({len(shown)} of {total}, newest first)",
            [
                "at (UTC)",
                "who",
                "role",
                "action",
                "what",
                "record / query",
                "centre",
                "from",
                "via",
            ],
            rows,
            keys=["at (UTC)", "record / query"],
        )
    )
    return 0


@app.command("pseudonym")
def pseudonym(
    hospital_id: Annotated[
        str, typer.Argument(metavar="HOSPITAL_ID", help="Hospital number, or - to read stdin.")
    ],
    centre: Annotated[str, typer.Option("--centre", help="The patient's centre (e.g. C01).")],
    as_json: JsonFlag = False,
) -> int:
    """The patient id (pseudonym) of a hospital number at a centre, with the key."""
    from openect.registry.pseudonym import PseudonymKeyError
    from openect.registry.pseudonym import pseudonym as make

    value = sys.stdin.readline().strip() if hospital_id == "-" else hospital_id
    try:
        result = make(value, centre)
    except (PseudonymKeyError, ValueError) as error:
        raise CliError(str(error)) from error
    if as_json:
        emit_json({"patient_id": result})
    else:
        stdout.print(result)
    return 0


@app.command("key")
def key(
    out: Annotated[Path, typer.Option("--out", help="Key file to create (mode 600).")],
) -> int:
    """Create a new random pseudonymisation key file (never overwrites one)."""
    from openect.registry.pseudonym import new_key

    if out.exists():
        raise CliError(f"--out={str(out)!r}: exists; a key is never overwritten")
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(new_key() + "\n")
    stdout.print(
        f"Key written to {out}; keep it outside the database and back it up separately.",
        soft_wrap=True,
    )
    return 0


@app.command("backup")
def backup(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Backup file (.json or .json.gz).")],
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """Write the whole registry (rows, audit trail, users) to one portable file."""
    _open(database)
    from openect.registry.backup import backup as make_backup

    with stderr.status("Backing up...", spinner="dots"):
        counts = make_backup(_actor(), file)
    if as_json:
        emit_json({"file": str(file), "counts": counts})
    else:
        stdout.print(f"Backup written: {file} ({sum(counts.values())} rows)", soft_wrap=True)
    return 0


@app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Backup file to restore.")],
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """Restore a backup into an empty, initialised registry (one transaction)."""
    if not file.is_file():
        raise CliError(f"FILE={str(file)!r}: no such file")
    _open(database)
    from openect.errors import OpenECTError
    from openect.registry.backup import restore as run_restore

    try:
        with stderr.status("Restoring...", spinner="dots"):
            counts = run_restore(_actor(), file)
    except OpenECTError as error:
        raise CliError(str(error)) from error
    if as_json:
        emit_json({"file": str(file), "counts": counts})
    else:
        stdout.print(f"Restored {sum(counts.values())} rows from {file}", soft_wrap=True)
    return 0


Table = Annotated[
    str,
    typer.Argument(
        metavar="TABLE",
        help="The record's table: patients, lesions, sessions, applications, assessments, "
        "adverse_events, patient_reported, systemic_therapies.",
    ),
]
RecordId = Annotated[str, typer.Argument(metavar="ID", help="The record's identifier.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (required; kept in the audit trail).")]


def _void_or_restore(
    kind: str, table_name: str, record_id: str, reason: str, database: str | None, as_json: bool
) -> int:
    """Run ``services.void`` (``kind`` "void") or ``services.unvoid`` and report it."""
    _open(database)
    from openect.data.models import ENTITIES
    from openect.errors import OpenECTError
    from openect.registry import services

    tables = [r.table for r in ENTITIES if r.table != "centres"]
    if table_name not in tables:
        raise CliError(f"TABLE={table_name!r}: allowed {', '.join(tables)}")
    run = services.void if kind == "void" else services.unvoid
    try:
        done = run(_actor(), table_name, record_id, reason)
    except OpenECTError as error:
        raise CliError(str(error)) from error
    key, verb = ("voided", "Voided") if kind == "void" else ("restored", "Restored")
    if as_json:
        emit_json({key: [{"table": t, "record_id": i} for t, i in done]})
    else:
        stdout.print(
            f"{verb} {table_name} {record_id}"
            + (f" and {len(done) - 1} record(s) with it" if len(done) > 1 else ""),
            soft_wrap=True,
        )
    return 0


@app.command("void")
def void(
    table_name: Table,
    record_id: RecordId,
    reason: Reason,
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """Void a record entered in error, with the records that depend on it (a session's
    applications, a lesion's assessments): out of every read, export and analysis, kept in
    the audit trail; `openect registry unvoid` restores it."""
    return _void_or_restore("void", table_name, record_id, reason, database, as_json)


@app.command("unvoid")
def unvoid(
    table_name: Table,
    record_id: RecordId,
    reason: Reason,
    database: Database = None,
    as_json: JsonFlag = False,
) -> int:
    """Restore a voided record as it was (with those voided with it)."""
    return _void_or_restore("unvoid", table_name, record_id, reason, database, as_json)


@app.command("user")
def user(
    username: Annotated[str, typer.Argument(metavar="USERNAME")],
    role: Annotated[str, typer.Option("--role", help="clinician, data_manager, analyst, admin.")],
    centre: Annotated[
        str | None, typer.Option("--centre", help="Centre (clinician, data manager).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    database: Database = None,
) -> int:
    """Create or change a user with a role (and centre) for the web application and API.

    The password (``--password-stdin``) must have at least 12 characters, not be a
    common password, not resemble the user name and not be only digits; the centre must
    be one of the registry's (any, while the registry holds no centre yet).
    """
    if role not in ROLES:
        raise CliError(f"--role={role}: unknown; allowed {', '.join(ROLES)}")
    if role in ("clinician", "data_manager") and not centre:
        raise CliError(f"--centre: required for role {role}")
    if role in ("analyst", "admin") and centre:
        raise CliError(f"--centre={centre}: not allowed for role {role} (all centres)")
    _open(database)
    from openect.registry.accounts import check_centre, set_user

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        if centre:
            check_centre(centre)
        set_user(_actor(), username, role, centre, password)
    except ValueError as error:
        raise CliError(str(error)) from error
    stdout.print(f"User {username}: {role}{' of ' + centre if centre else ''}")
    return 0
