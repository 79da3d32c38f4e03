"""Dataset schema 1.3: an intratumoural application's own injection time
(``applications.injection_end_time``): each lesion's window runs from the end of its
own injection. Existing applications get none (their window runs from the session's
bolus end, as before); every other value is kept. Going back removes the column.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0008_voided_records'),
    ]

    operations = [
        migrations.AddField(
            model_name='application',
            name='injection_end_time',
            field=models.TimeField(null=True),
        ),
    ]
