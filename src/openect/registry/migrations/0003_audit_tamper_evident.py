"""A tamper-evident audit trail: a hash chain, and no way round the append-only triggers.

* ``previous`` and ``digest`` on every entry: ``digest`` is the SHA-256 of the entry's
  content and ``previous`` (the digest of the entry before it, in id order; see
  :func:`openect.registry.models.chain_digest`). Existing entries are chained here, in id
  order, so that an existing registry becomes verifiable
  (``openect registry audit --verify``). The columns are written at insert only; the
  update trigger is set aside while they are filled in, in this migration's transaction.
* PostgreSQL: a statement-level trigger refuses ``TRUNCATE`` of ``openect_audit`` (row
  triggers do not fire on ``TRUNCATE``).
* SQLite: ``INSERT OR REPLACE`` (and ``REPLACE INTO``) deletes the conflicting row
  without firing delete triggers (unless ``recursive_triggers`` is on in that
  connection, which an attacker's own connection need not do); a ``BEFORE INSERT``
  trigger refuses any insert whose id already exists, whatever the connection.

SQLite rebuilds the table to add a column, which drops its triggers: they are created
again here (and on the way back).
"""

import importlib
from typing import Any

from django.db import migrations, models

from openect.registry.models import GENESIS, chain_digest, entry_values

APPEND_ONLY = importlib.import_module("openect.registry.migrations.0002_audit_append_only")

SQLITE = [
    "CREATE TRIGGER openect_audit_no_replace BEFORE INSERT ON openect_audit "
    "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM openect_audit WHERE id = NEW.id) "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS openect_audit_no_replace;"]
POSTGRESQL = [
    "CREATE TRIGGER openect_audit_no_truncate BEFORE TRUNCATE ON openect_audit "
    "FOR EACH STATEMENT EXECUTE FUNCTION openect_audit_append_only();",
]
POSTGRESQL_REVERSE = ["DROP TRIGGER IF EXISTS openect_audit_no_truncate ON openect_audit;"]
#: Entries read and chained per step.
BATCH = 2000


def _execute(schema_editor: Any, statements: list[str]) -> None:
    for sql in statements:
        schema_editor.execute(sql)


def _restore_append_only_on_sqlite(apps: Any, schema_editor: Any) -> None:
    """SQLite, going back: the table rebuilt without the new columns has lost the
    triggers of 0002."""
    if schema_editor.connection.vendor == "sqlite":
        _execute(schema_editor, APPEND_ONLY.SQLITE_REVERSE + APPEND_ONLY.SQLITE)


def chain_existing_entries(apps: Any, schema_editor: Any) -> None:
    """Chain the existing entries in id order, then protect the table."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _execute(schema_editor, APPEND_ONLY.SQLITE_REVERSE)
    elif vendor == "postgresql":
        schema_editor.execute("ALTER TABLE openect_audit DISABLE TRIGGER openect_audit_no_change")
    model = apps.get_model("registry", "AuditEntry")
    previous, last = GENESIS, 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            batch = list(model.objects.filter(id__gt=last).order_by("id")[:BATCH])
            if not batch:
                break
            for entry in batch:
                digest = chain_digest(entry_values(entry), previous)
                cursor.execute(
                    "UPDATE openect_audit SET previous = %s, digest = %s WHERE id = %s",
                    [previous, digest, entry.pk],
                )
                previous, last = digest, entry.pk
    if vendor == "sqlite":
        _execute(schema_editor, APPEND_ONLY.SQLITE + SQLITE)
    elif vendor == "postgresql":
        schema_editor.execute("ALTER TABLE openect_audit ENABLE TRIGGER openect_audit_no_change")
        _execute(schema_editor, POSTGRESQL)


def unprotect(apps: Any, schema_editor: Any) -> None:
    """Going back: drop this migration's triggers."""
    vendor = schema_editor.connection.vendor
    _execute(
        schema_editor, {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}.get(vendor, [])
    )


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_audit_append_only")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, _restore_append_only_on_sqlite),
        migrations.AddField(
            model_name="auditentry",
            name="previous",
            field=models.CharField(
                default="", help_text="Digest of the entry before (chain link)", max_length=64
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="digest",
            field=models.CharField(
                default="",
                help_text="SHA-256 of this entry's content and previous",
                max_length=64,
            ),
        ),
        migrations.RunPython(chain_existing_entries, unprotect),
    ]
