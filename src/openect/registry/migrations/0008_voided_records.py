"""Voided records: a record entered in error is voided with a reason, its row moved to
``openect_voided`` (out of every page, export and analysis; restorable), and the audit
trail gains the actions ``void`` and ``unvoid``. No existing row changes; the dataset
format does not change (a voided record is not in an export). Going back drops the
table, so voided records would then be gone (their audit entries stay).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0007_patient_number'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditentry',
            name='action',
            field=models.CharField(choices=[('create', 'Create'), ('update', 'Update'), ('delete', 'Delete'), ('import', 'Import'), ('restore', 'Restore'), ('export', 'Export'), ('void', 'Void'), ('unvoid', 'Unvoid')], max_length=8),
        ),
        migrations.CreateModel(
            name='VoidedRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('entity', models.CharField(max_length=32)),
                ('record_id', models.CharField(db_index=True, max_length=64)),
                ('centre_id', models.CharField(db_index=True, max_length=64, null=True)),
                ('patient_id', models.CharField(db_index=True, max_length=64, null=True)),
                ('values', models.JSONField(help_text="The row's column values (JSON), as they were")),
                ('position', models.BigIntegerField(help_text="The row's registry position (export order)")),
                ('sequence', models.IntegerField(help_text='Order within the void (dependants first)')),
                ('root', models.CharField(max_length=129)),
                ('voided_at', models.DateTimeField()),
                ('voided_by', models.CharField(max_length=150)),
                ('reason', models.TextField()),
            ],
            options={
                'db_table': 'openect_voided',
                'ordering': ('voided_at', 'sequence'),
                'constraints': [models.UniqueConstraint(fields=('entity', 'record_id'), name='voided_record_unique')],
            },
        ),
    ]
