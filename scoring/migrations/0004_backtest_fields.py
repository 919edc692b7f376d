"""Backtests and score attribution: when a model version was retired (with activated_at,
which version was active at any past moment), and each score's change since the
account's previous score, by component."""

from django.db import migrations, models


def date_retirements(apps, schema_editor):
    # A version was retired when the next version of its key was activated.
    ScoringModel = apps.get_model("scoring", "ScoringModel")
    versions = ScoringModel.objects.exclude(activated_at=None).order_by("key", "activated_at")
    previous = None
    for version in versions:
        if (
            previous is not None
            and previous.key == version.key
            and previous.status == "retired"
            and previous.retired_at is None
        ):
            previous.retired_at = version.activated_at
            previous.save(update_fields=["retired_at"])
        previous = version


class Migration(migrations.Migration):
    dependencies = [("scoring", "0003_letter_grades")]

    operations = [
        migrations.AddField(
            model_name="healthscore",
            name="delta",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="scoringmodel",
            name="retired_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(date_retirements, migrations.RunPython.noop),
    ]
