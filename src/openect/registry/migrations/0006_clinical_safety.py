"""Dataset schema 1.1: the columns of the clinical-safety review, all optional.

* patients: ``dlco_percent_predicted`` (> 0 and <= 200 %), ``dlco_date``,
  ``chest_imaging_date``;
* sessions: ``pain_during_nrs``, ``pain_after_nrs`` (0-10), ``analgesia`` (a
  ``;``-separated list); ``drug`` may be ``calcium_chloride`` (a longer column);
* systemic therapies: ``bleomycin_iu`` (0-2,000,000 IU); ``agent_class`` may be
  ``ect_elsewhere``.

Existing rows keep every value; the new columns are empty (NULL) in them. The changed
enum checks are dropped and added again with the new values.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0005_access_log'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='session',
            name='sessions_drug_allowed',
        ),
        migrations.RemoveConstraint(
            model_name='systemictherapy',
            name='systemic_therapies_agent_class_allowed',
        ),
        migrations.AddField(
            model_name='patient',
            name='dlco_percent_predicted',
            field=models.FloatField(null=True),
        ),
        migrations.AddField(
            model_name='patient',
            name='dlco_date',
            field=models.DateField(null=True),
        ),
        migrations.AddField(
            model_name='patient',
            name='chest_imaging_date',
            field=models.DateField(null=True),
        ),
        migrations.AddField(
            model_name='session',
            name='pain_during_nrs',
            field=models.IntegerField(null=True),
        ),
        migrations.AddField(
            model_name='session',
            name='pain_after_nrs',
            field=models.IntegerField(null=True),
        ),
        migrations.AddField(
            model_name='session',
            name='analgesia',
            field=models.TextField(null=True),
        ),
        migrations.AddField(
            model_name='systemictherapy',
            name='bleomycin_iu',
            field=models.FloatField(null=True),
        ),
        migrations.AlterField(
            model_name='session',
            name='drug',
            field=models.CharField(choices=[('bleomycin', 'bleomycin'), ('cisplatin', 'cisplatin'), ('calcium_chloride', 'calcium_chloride')], max_length=16),
        ),
        migrations.AlterField(
            model_name='systemictherapy',
            name='agent_class',
            field=models.CharField(choices=[('anti_pd1', 'anti_pd1'), ('anti_ctla4', 'anti_ctla4'), ('anti_pd1_ctla4', 'anti_pd1_ctla4'), ('braf_mek', 'braf_mek'), ('chemotherapy', 'chemotherapy'), ('ect_elsewhere', 'ect_elsewhere'), ('other', 'other')], max_length=14),
        ),
        migrations.AddConstraint(
            model_name='patient',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('dlco_percent_predicted__gt', 0), ('dlco_percent_predicted__lte', 200)), ('dlco_percent_predicted__isnull', True), _connector='OR'), name='patients_dlco_percent_predicted_allowed'),
        ),
        migrations.AddConstraint(
            model_name='session',
            constraint=models.CheckConstraint(condition=models.Q(('drug__in', ['bleomycin', 'cisplatin', 'calcium_chloride'])), name='sessions_drug_allowed'),
        ),
        migrations.AddConstraint(
            model_name='session',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('pain_during_nrs__gte', 0), ('pain_during_nrs__lte', 10)), ('pain_during_nrs__isnull', True), _connector='OR'), name='sessions_pain_during_nrs_allowed'),
        ),
        migrations.AddConstraint(
            model_name='session',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('pain_after_nrs__gte', 0), ('pain_after_nrs__lte', 10)), ('pain_after_nrs__isnull', True), _connector='OR'), name='sessions_pain_after_nrs_allowed'),
        ),
        migrations.AddConstraint(
            model_name='systemictherapy',
            constraint=models.CheckConstraint(condition=models.Q(('agent_class__in', ['anti_pd1', 'anti_ctla4', 'anti_pd1_ctla4', 'braf_mek', 'chemotherapy', 'ect_elsewhere', 'other'])), name='systemic_therapies_agent_class_allowed'),
        ),
        migrations.AddConstraint(
            model_name='systemictherapy',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('bleomycin_iu__gte', 0), ('bleomycin_iu__lte', 2000000)), ('bleomycin_iu__isnull', True), _connector='OR'), name='systemic_therapies_bleomycin_iu_allowed'),
        ),
    ]
