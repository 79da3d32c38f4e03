"""Dataset schema 1.2: each patient's number within the centre (``patient_number``).

With the centre it makes the short label people use to tell patients apart
(``C01-0042``); the pseudonym stays the key. Existing patients are numbered per centre
in the order they were imported or created (``position``, then id), 1, 2, ...; every
other value is kept. Then the number is checked (1 to 999,999) and made unique within
the centre. Going back removes the column.

The numbers written here are derived from the registry's own order and are not audit
entries; patients created or imported later are numbered by the services, audited.
"""

from typing import Any

from django.db import migrations, models

#: Patients numbered per statement.
BATCH = 1000


def number_existing_patients(apps: Any, schema_editor: Any) -> None:
    """Number every centre's patients 1, 2, ... in registry order (position, then id)."""
    patient = apps.get_model("registry", "Patient")
    rows = patient.objects.using(schema_editor.connection.alias).order_by(
        "centre_id", "position", "patient_id"
    )
    counts: dict[str, int] = {}
    pending: list[Any] = []
    for row in rows.only("patient_id", "centre", "position").iterator(chunk_size=BATCH):
        counts[row.centre_id] = counts.get(row.centre_id, 0) + 1
        row.patient_number = counts[row.centre_id]
        pending.append(row)
        if len(pending) >= BATCH:
            patient.objects.bulk_update(pending, ["patient_number"])
            pending = []
    if pending:
        patient.objects.bulk_update(pending, ["patient_number"])


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0006_clinical_safety'),
    ]

    operations = [
        migrations.AddField(
            model_name='patient',
            name='patient_number',
            field=models.IntegerField(null=True),
        ),
        migrations.RunPython(number_existing_patients, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('patient_number__gte', 1), ('patient_number__lte', 999999)), ('patient_number__isnull', True), _connector='OR'), name='patients_patient_number_allowed'),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.UniqueConstraint(fields=('centre', 'patient_number'), name='patients_centre_id_patient_number_unique'),
        ),
    ]
