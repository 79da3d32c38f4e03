"""Dataset schema 1.3: each centre's time zone (``centres.time_zone``, an IANA name):
"today" for its records and the clock times of its pages. Existing centres get none
(the registry's setting ``time_zone`` applies, as before); every other value is kept.
Going back removes the column.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0009_injection_per_lesion'),
    ]

    operations = [
        migrations.AddField(
            model_name='centre',
            name='time_zone',
            field=models.CharField(max_length=64, null=True),
        ),
    ]
