"""Make the audit table append-only in the database itself (UPDATE and DELETE refused)."""

from typing import Any

from django.db import migrations

SQLITE = [
    "CREATE TRIGGER openect_audit_no_update BEFORE UPDATE ON openect_audit "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;",
    "CREATE TRIGGER openect_audit_no_delete BEFORE DELETE ON openect_audit "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS openect_audit_no_update;",
    "DROP TRIGGER IF EXISTS openect_audit_no_delete;",
]
POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION openect_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql;",
    "CREATE TRIGGER openect_audit_no_change BEFORE UPDATE OR DELETE ON openect_audit "
    "FOR EACH ROW EXECUTE FUNCTION openect_audit_append_only();",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS openect_audit_no_change ON openect_audit;",
    "DROP FUNCTION IF EXISTS openect_audit_append_only();",
]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]
