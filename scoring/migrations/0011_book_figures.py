"""The book's figures: two summary tables and the triggers that keep them, per database
(``scoring/figures.py`` says why and how), filled from the book as it is.

The triggers are installed as ``scoring.figures`` writes them when this migration runs; a
later change to them comes with a migration that installs them again."""

from django.db import migrations, models

from scoring import figures


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements, _ = figures.trigger_statements(vendor)
    for statement in [*statements, *figures.rebuild_statements(vendor)]:
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    _, statements = figures.trigger_statements(schema_editor.connection.vendor)
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('scoring', '0010_history_schedule'),
        ('accounts', '0005_churned_at_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='BookFigure',
            fields=[
                ('pk', models.CompositePrimaryKey('owner_id', 'segment', 'level', 'churned', blank=True, editable=False, primary_key=True, serialize=False)),
                ('owner_id', models.IntegerField(help_text="The owner's id; 0: no owner.")),
                ('segment', models.CharField(choices=[('smb', 'SMB'), ('mid_market', 'Mid-market'), ('enterprise', 'Enterprise')], max_length=20)),
                ('level', models.CharField(blank=True, choices=[('healthy', 'Healthy'), ('neutral', 'Neutral'), ('at_risk', 'At risk'), ('critical', 'Critical')], max_length=10)),
                ('churned', models.BooleanField(help_text='The accounts have a churn date (past or future).')),
                ('accounts', models.BigIntegerField()),
                ('arr_cents', models.BigIntegerField(verbose_name='ARR in cents')),
            ],
            options={
                'db_table': 'scoring_bookfigure',
            },
        ),
        migrations.CreateModel(
            name='ScoreFigure',
            fields=[
                ('pk', models.CompositePrimaryKey('owner_id', 'model_id', 'churned', 'bucket', blank=True, editable=False, primary_key=True, serialize=False)),
                ('owner_id', models.IntegerField(help_text="The owner's id; 0: no owner.")),
                ('model_id', models.IntegerField()),
                ('churned', models.BooleanField()),
                ('bucket', models.BigIntegerField(help_text='floor(score)')),
                ('accounts', models.BigIntegerField()),
            ],
            options={
                'db_table': 'scoring_scorefigure',
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
