"""A check value of the pseudonymisation key (HMAC of a fixed label; never the key)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_audit_tamper_evident"),
    ]

    operations = [
        migrations.CreateModel(
            name="PseudonymKeyCheck",
            fields=[
                ("name", models.CharField(max_length=32, primary_key=True, serialize=False)),
                (
                    "check_value",
                    models.CharField(help_text="HMAC-SHA256(key, label), hex", max_length=64),
                ),
                ("recorded_at", models.DateTimeField()),
            ],
            options={
                "db_table": "openect_key_check",
            },
        ),
    ]
