"""Dataset schema 1.3: an assessment's note (crust, necrosis, scar...) and whether a new
lesion appeared in the treated field at that visit. Existing assessments get neither
(unknown); every other value is kept. Going back removes the columns.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0010_centre_time_zone'),
    ]

    operations = [
        migrations.AddField(
            model_name='assessment',
            name='new_lesion_in_field',
            field=models.BooleanField(null=True),
        ),
        migrations.AddField(
            model_name='assessment',
            name='note',
            field=models.TextField(null=True),
        ),
    ]
