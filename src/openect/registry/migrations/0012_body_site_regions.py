"""Dataset schema 1.3: finer body sites (head and neck apart, each side of the trunk) and
a lesion's free-text location detail. Existing lesions keep their body site
(``head_neck``, ``trunk_anterior`` and ``trunk_posterior`` stay valid: region or side not
recorded) and get no detail. Going back removes the column and the new sites; it fails
while a lesion is at one of them.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0011_assessment_note'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='lesion',
            name='lesions_body_site_allowed',
        ),
        migrations.AddField(
            model_name='lesion',
            name='location_detail',
            field=models.TextField(null=True),
        ),
        migrations.AlterField(
            model_name='lesion',
            name='body_site',
            field=models.CharField(choices=[('head_neck', 'head_neck'), ('trunk_anterior', 'trunk_anterior'), ('trunk_posterior', 'trunk_posterior'), ('head', 'head'), ('neck', 'neck'), ('trunk_anterior_left', 'trunk_anterior_left'), ('trunk_anterior_right', 'trunk_anterior_right'), ('trunk_posterior_left', 'trunk_posterior_left'), ('trunk_posterior_right', 'trunk_posterior_right'), ('upper_limb_left', 'upper_limb_left'), ('upper_limb_right', 'upper_limb_right'), ('lower_limb_left', 'lower_limb_left'), ('lower_limb_right', 'lower_limb_right'), ('genital_perineal', 'genital_perineal')], max_length=21),
        ),
        migrations.AddConstraint(
            model_name='lesion',
            constraint=models.CheckConstraint(condition=models.Q(('body_site__in', ['head_neck', 'trunk_anterior', 'trunk_posterior', 'head', 'neck', 'trunk_anterior_left', 'trunk_anterior_right', 'trunk_posterior_left', 'trunk_posterior_right', 'upper_limb_left', 'upper_limb_right', 'lower_limb_left', 'lower_limb_right', 'genital_perineal'])), name='lesions_body_site_allowed'),
        ),
    ]
