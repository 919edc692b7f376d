"""The account list's descending score and trend sorts keep unscored accounts last
(DESC NULLS LAST), which a backward walk of the ascending indexes on the latest health
would put first; on PostgreSQL these indexes serve them. SQLite takes no NULLS LAST in an
index; it sorts there, as the embedded default for small books."""

from django.db import migrations

INDEXES = {
    "accounthealth_score_desc": '("score" DESC NULLS LAST)',
    "accounthealth_level_score_desc": '("level", "score" DESC NULLS LAST)',
    "accounthealth_trend30_desc": '("trend_30d" DESC NULLS LAST)',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON scoring_accounthealth {columns}"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("scoring", "0011_book_figures")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
