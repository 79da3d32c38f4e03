"""The access log (who read which patient's data, sign-ins, tokens), append-only in the
database until each entry's retention has passed; ``export`` as an audit action.

Retention is enforced by the database: every entry carries ``keep_until`` (when it was
written, plus ``OPENECT_ACCESS_LOG_DAYS`` then), and the triggers refuse

* ``UPDATE`` of any entry (so ``keep_until`` cannot be moved nearer);
* ``DELETE`` of an entry whose ``keep_until`` has not passed (only
  ``openect registry access-log --purge`` deletes, and only expired entries);
* an insert over an existing entry (SQLite: ``INSERT OR REPLACE`` / ``REPLACE INTO``
  delete the old row without firing delete triggers);
* ``TRUNCATE`` (PostgreSQL, a statement trigger), unless the table owner has set the
  audit trail's own ``TRUNCATE`` trigger aside in the same transaction (as the test
  database's flush does): whoever may do that owns the tables and could drop this
  trigger as well, so nothing is weakened for the application's role.

A shorter retention set later applies to entries written after the change; entries
already written keep theirs, so that nobody can shorten the log after the fact.

``AuditAction.EXPORT`` changes only the column's choices (no change in the database;
SQLite does not rebuild the audit table, whose triggers stay).
"""

from typing import Any

from django.db import migrations, models

#: Message of every refusal (the tests look for "append-only").
REFUSED = "access log entries are append-only"
REFUSED_EARLY = "access log entries are append-only until their retention has passed"

SQLITE = [
    "CREATE TRIGGER openect_access_log_no_update BEFORE UPDATE ON openect_access_log "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END;",
    "CREATE TRIGGER openect_access_log_no_early_delete BEFORE DELETE ON openect_access_log "
    "WHEN julianday(OLD.keep_until) IS NULL OR julianday(OLD.keep_until) >= julianday('now') "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED_EARLY}'); END;",
    "CREATE TRIGGER openect_access_log_no_replace BEFORE INSERT ON openect_access_log "
    "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM openect_access_log WHERE id = NEW.id) "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END;",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS openect_access_log_no_update;",
    "DROP TRIGGER IF EXISTS openect_access_log_no_early_delete;",
    "DROP TRIGGER IF EXISTS openect_access_log_no_replace;",
]
POSTGRESQL = [
    "CREATE OR REPLACE FUNCTION openect_access_log_guard() RETURNS trigger AS $$ "
    "BEGIN "
    "IF TG_OP = 'DELETE' THEN "
    "  IF OLD.keep_until < now() THEN RETURN OLD; END IF; "
    f"  RAISE EXCEPTION '{REFUSED_EARLY}'; "
    "END IF; "
    "IF TG_OP = 'TRUNCATE' AND EXISTS (SELECT 1 FROM pg_trigger "
    "  WHERE tgname = 'openect_audit_no_truncate' "
    "  AND tgrelid = to_regclass('openect_audit') AND tgenabled = 'D') THEN "
    "  RETURN NULL; "
    "END IF; "
    f"RAISE EXCEPTION '{REFUSED}'; "
    "END; $$ LANGUAGE plpgsql;",
    "CREATE TRIGGER openect_access_log_no_change BEFORE UPDATE OR DELETE ON openect_access_log "
    "FOR EACH ROW EXECUTE FUNCTION openect_access_log_guard();",
    "CREATE TRIGGER openect_access_log_no_truncate BEFORE TRUNCATE ON openect_access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION openect_access_log_guard();",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS openect_access_log_no_truncate ON openect_access_log;",
    "DROP TRIGGER IF EXISTS openect_access_log_no_change ON openect_access_log;",
    "DROP FUNCTION IF EXISTS openect_access_log_guard();",
]


def _run(statements: dict[str, list[str]]) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_pseudonym_key_check")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("create", "Create"),
                    ("update", "Update"),
                    ("delete", "Delete"),
                    ("import", "Import"),
                    ("restore", "Restore"),
                    ("export", "Export"),
                ],
                max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="AccessEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(db_index=True)),
                ("actor", models.CharField(db_index=True, help_text="User name", max_length=150)),
                (
                    "role",
                    models.CharField(blank=True, help_text="Role (blank: none)", max_length=16),
                ),
                (
                    "actor_centre_id",
                    models.CharField(
                        help_text="Centre of the user (none: all centres)",
                        max_length=64,
                        null=True,
                    ),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("view", "view"),
                            ("list", "list"),
                            ("export", "export"),
                            ("report", "report"),
                            ("sign_in", "sign in"),
                            ("sign_in_failed", "sign in failed"),
                            ("sign_out", "sign out"),
                            ("token_issued", "token issued"),
                            ("token_revoked", "token revoked"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "entity",
                    models.CharField(blank=True, help_text="Table (or what) read", max_length=32),
                ),
                ("record_id", models.CharField(blank=True, db_index=True, max_length=200)),
                (
                    "query",
                    models.CharField(
                        blank=True, help_text="Filters of a list read", max_length=500
                    ),
                ),
                (
                    "centre_id",
                    models.CharField(
                        db_index=True,
                        help_text="Centre of the data read (none: several or all centres)",
                        max_length=64,
                        null=True,
                    ),
                ),
                ("address", models.GenericIPAddressField(help_text="Client address", null=True)),
                (
                    "channel",
                    models.CharField(
                        choices=[("page", "page"), ("api", "api"), ("cli", "cli")], max_length=8
                    ),
                ),
                (
                    "keep_until",
                    models.DateTimeField(
                        db_index=True,
                        help_text="Kept at least until then (at + retention when written)",
                    ),
                ),
            ],
            options={
                "db_table": "openect_access_log",
                "ordering": ("id",),
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            (
                                "action__in",
                                [
                                    "view",
                                    "list",
                                    "export",
                                    "report",
                                    "sign_in",
                                    "sign_in_failed",
                                    "sign_out",
                                    "token_issued",
                                    "token_revoked",
                                ],
                            )
                        ),
                        name="access_log_action_allowed",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("channel__in", ["page", "api", "cli"])),
                        name="access_log_channel_allowed",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("keep_until__gt", models.F("at"))),
                        name="access_log_kept_after_written",
                    ),
                ],
            },
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
    ]
