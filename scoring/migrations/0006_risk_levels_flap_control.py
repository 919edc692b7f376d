"""Risk levels, flap control and roll-ups kept per model version.

- Every band gets a risk level (healthy, neutral, at risk, critical), mapped from the old
  "at risk" flag: within a model, of two or more at-risk bands the lowest is critical;
  of two or more others the lowest is neutral and the rest healthy; a lone other band is
  healthy.
- Model versions get flap-control rules (exit margin, dwell); history rows and the latest
  health keep the confirmed band beside the raw one. Existing rows are confirmed as they
  are (their band was what counted until now).
- Components keep the roll-up of their metric (the definition the version scores with).
"""

import django.db.models.deletion
from django.db import migrations, models

LEVELS = [
    ("healthy", "Healthy"),
    ("neutral", "Neutral"),
    ("at_risk", "At risk"),
    ("critical", "Critical"),
]


def map_levels(apps, schema_editor):
    Band = apps.get_model("scoring", "Band")
    by_model = {}
    for band in Band.objects.all():
        by_model.setdefault(band.model_id, []).append(band)
    for bands in by_model.values():
        bands.sort(key=lambda b: (b.lower is not None, b.lower or 0.0))
        risky = [b for b in bands if b.is_at_risk]
        others = [b for b in bands if not b.is_at_risk]
        for band in risky:
            band.level = "critical" if len(risky) > 1 and band is risky[0] else "at_risk"
        for band in others:
            band.level = "neutral" if len(others) > 1 and band is others[0] else "healthy"
        Band.objects.bulk_update(bands, ["level"])


def copy_rollups(apps, schema_editor):
    Component = apps.get_model("scoring", "ScoringComponent")
    rows = list(Component.objects.select_related("metric"))
    for c in rows:
        c.rollup, c.window_days = c.metric.rollup, c.metric.window_days
    Component.objects.bulk_update(rows, ["rollup", "window_days"], batch_size=500)


CONFIRM_HISTORY = "UPDATE scoring_healthscore SET confirmed_band_id = band_id"
CONFIRM_LATEST = (
    "UPDATE scoring_accounthealth SET raw_band_id = band_id, level = COALESCE("
    "(SELECT b.level FROM scoring_band b WHERE b.id = scoring_accounthealth.band_id), '')"
)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0005_drop_redundant_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="band",
            name="level",
            field=models.CharField(
                choices=LEVELS,
                default="neutral",
                help_text="The risk level this band stands for. At risk and Critical count "
                "towards ARR at risk; playbooks can act on a level whatever model scored "
                "the account.",
                max_length=10,
            ),
        ),
        migrations.RunPython(map_levels, migrations.RunPython.noop),
        migrations.RemoveField(model_name="band", name="is_at_risk"),
        migrations.AddField(
            model_name="scoringmodel",
            name="exit_margin",
            field=models.FloatField(
                default=2.0,
                help_text="Hysteresis in points: an account leaves its band only when its "
                "score is more than this far past the band's edge.",
            ),
        ),
        migrations.AddField(
            model_name="scoringmodel",
            name="dwell_scorings",
            field=models.PositiveSmallIntegerField(
                default=2,
                help_text="Consecutive scorings in the new band before a band change counts "
                "(1 = at once).",
            ),
        ),
        migrations.AddField(
            model_name="scoringmodel",
            name="dwell_days",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="Days the new band must have lasted before a band change counts (0 = "
                "no wait; a day counts from 23 hours). With scorings in a row, a recompute run "
                "twice in an hour never confirms a change by itself.",
            ),
        ),
        migrations.AddConstraint(
            model_name="scoringmodel",
            constraint=models.CheckConstraint(
                condition=models.Q(exit_margin__gte=0),
                name="scoring_model_exit_margin_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="scoringmodel",
            constraint=models.CheckConstraint(
                condition=models.Q(dwell_scorings__gte=1), name="scoring_model_dwell_at_least_one"
            ),
        ),
        migrations.AddField(
            model_name="scoringcomponent",
            name="rollup",
            field=models.CharField(
                choices=[
                    ("latest", "Latest value"),
                    ("sum", "Sum over window"),
                    ("count", "Count over window"),
                    ("avg", "Average over window"),
                    ("min", "Minimum over window"),
                    ("max", "Maximum over window"),
                    ("change_pct", "Change % of the sum against the previous window"),
                    ("days_since", "Days since the last signal"),
                ],
                default="latest",
                editable=False,
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="scoringcomponent",
            name="window_days",
            field=models.PositiveIntegerField(default=30, editable=False),
            preserve_default=False,
        ),
        migrations.RunPython(copy_rollups, migrations.RunPython.noop),
        migrations.AddField(
            model_name="healthscore",
            name="confirmed_band",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="scoring.band",
            ),
        ),
        migrations.AddField(
            model_name="healthscore",
            name="pending_band",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="scoring.band",
            ),
        ),
        migrations.AddField(
            model_name="healthscore",
            name="pending_count",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="healthscore",
            name="pending_since",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="healthscore",
            name="rebaseline",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="accounthealth",
            name="level",
            field=models.CharField(blank=True, choices=LEVELS, max_length=10),
        ),
        migrations.AddField(
            model_name="accounthealth",
            name="raw_band",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="scoring.band",
            ),
        ),
        migrations.AddField(
            model_name="accounthealth",
            name="pending_band",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="scoring.band",
            ),
        ),
        migrations.AddField(
            model_name="accounthealth",
            name="pending_count",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="accounthealth",
            name="pending_since",
            field=models.DateTimeField(null=True),
        ),
        migrations.AddField(
            model_name="accounthealth",
            name="rebaseline",
            field=models.BooleanField(default=False),
        ),
        migrations.RunSQL(CONFIRM_HISTORY, migrations.RunSQL.noop),
        migrations.RunSQL(CONFIRM_LATEST, migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="accounthealth",
            index=models.Index(fields=["level", "score"], name="accounthealth_level_score"),
        ),
        migrations.AddField(
            model_name="scoreevent",
            name="rebaseline",
            field=models.BooleanField(default=False),
        ),
    ]
