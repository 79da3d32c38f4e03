"""Close the last ways round the audit trail's append-only triggers.

* PostgreSQL: a statement-level trigger refuses ``TRUNCATE`` of ``openect_audit`` (row
  triggers do not fire on ``TRUNCATE``).
* SQLite: ``INSERT OR REPLACE`` (and ``REPLACE INTO``) deletes the conflicting row
  without firing delete triggers (unless ``recursive_triggers`` is on in that
  connection, which an attacker's own connection need not do); a ``BEFORE INSERT``
  trigger refuses any insert whose id already exists, whatever the connection.
"""

from typing import Any

from django.db import migrations

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


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("registry", "0002_audit_append_only")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]
