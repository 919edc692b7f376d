"""Drop three single-column foreign-key indexes that a composite index already covers:
healthscore.account_id (healthscore_account_time), healthscore.run_id
(healthscore_once_per_run) and accounthealth.band_id (accounthealth_band_score).

Only the indexes go: the foreign keys stay as they are. Altering the fields in the
database would drop and re-add the constraints, re-validating every history row.
The index names are the ones Django gave them, the same on PostgreSQL and SQLite.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [
    ("scoring_accounthealth_band_id_f1e2c131", "scoring_accounthealth", "band_id"),
    ("scoring_healthscore_account_id_adc49374", "scoring_healthscore", "account_id"),
    ("scoring_healthscore_run_id_b4e21d49", "scoring_healthscore", "run_id"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_token"),
        ("scoring", "0004_backtest_fields"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{table}" ("{column}")',
                )
                for name, table, column in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="accounthealth",
                    name="band",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="scoring.band",
                    ),
                ),
                migrations.AlterField(
                    model_name="healthscore",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="health_scores",
                        to="accounts.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="healthscore",
                    name="run",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="scores",
                        to="scoring.scoringrun",
                    ),
                ),
            ],
        ),
    ]
