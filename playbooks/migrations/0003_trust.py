"""Alerts a CSM can trust: risk-level triggers and conditions, re-baselines, recovery,
hold-outs, one open task per account and step, and playbooks that act from their
enabling on.

Existing rows: active playbooks count as enabled since they were created (they go on
acting as before); each task keeps the step it came from; where an account already had
several open tasks from one step, the oldest stays open and the others are cancelled as
duplicates of it; runs caused by a band change take that band's level.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    Playbook = apps.get_model("playbooks", "Playbook")
    PlaybookRun = apps.get_model("playbooks", "PlaybookRun")
    Task = apps.get_model("playbooks", "Task")
    for playbook in Playbook.objects.filter(is_active=True):
        playbook.enabled_at = playbook.created_at
        playbook.save(update_fields=["enabled_at"])
    for run in PlaybookRun.objects.filter(score_event__to_band__isnull=False).select_related(
        "score_event__to_band"
    ):
        run.level = run.score_event.to_band.level
        run.save(update_fields=["level"])
    kept: dict[tuple[int, int], int] = {}
    for task in (
        Task.objects.filter(origin_step_run__isnull=False)
        .select_related("origin_step_run")
        .order_by("created_at", "id")
    ):
        task.playbook_step_id = task.origin_step_run.step_id
        fields = ["playbook_step"]
        if task.status in ("open", "snoozed"):
            key = (task.account_id, task.playbook_step_id)
            if key in kept:
                task.status, task.snoozed_until = "cancelled", None
                task.close_reason = f"Duplicate of task #{kept[key]}"
                task.closed_at = task.created_at
                fields += ["status", "snoozed_until", "close_reason", "closed_at"]
            else:
                kept[key] = task.pk
        task.save(update_fields=fields)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_api_token'),
        ('playbooks', '0002_schedules'),
        ('scoring', '0006_risk_levels_flap_control'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='playbook',
            name='enabled_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When the playbook was last switched on: it acts on events from then on (earlier ones only by an explicit backfill).', null=True),
        ),
        migrations.AddField(
            model_name='playbook',
            name='holdout_arr_max',
            field=models.DecimalField(blank=True, decimal_places=2, help_text='Never hold out an account with more ARR than this (your largest accounts are always acted on; the comparison is made among the others).', max_digits=14, null=True, verbose_name='hold out only up to ARR'),
        ),
        migrations.AddField(
            model_name='playbook',
            name='holdout_pct',
            field=models.PositiveSmallIntegerField(default=0, help_text='Share of the accounts (chosen at random, once) whose runs are recorded as held out: no tasks, no messages. Comparing them with the others shows whether the playbook works.', verbose_name='hold-out %'),
        ),
        migrations.AddField(
            model_name='playbook',
            name='level',
            field=models.CharField(blank=True, choices=[('healthy', 'Healthy'), ('neutral', 'Neutral'), ('at_risk', 'At risk'), ('critical', 'Critical')], help_text='Entered a risk level: the level, whatever model scored the account.', max_length=10),
        ),
        migrations.AddField(
            model_name='playbook',
            name='level_at_least',
            field=models.CharField(blank=True, choices=[('healthy', 'Healthy'), ('neutral', 'Neutral'), ('at_risk', 'At risk'), ('critical', 'Critical')], help_text='Only accounts whose confirmed band is at this risk level or worse.', max_length=10, verbose_name='risk level at least'),
        ),
        migrations.AddField(
            model_name='playbook',
            name='on_rebaseline',
            field=models.BooleanField(default=False, help_text='Also fire when a band change or score comes only from a new scoring model version (a re-baseline). Off: a new version never raises alarms by itself.', verbose_name='act on re-baselines'),
        ),
        migrations.AddField(
            model_name='playbook',
            name='on_recovery',
            field=models.CharField(choices=[('close', 'Close its open tasks'), ('keep', 'Keep its tasks open'), ('notify', 'Keep them open and tell the assignee')], default='close', help_text="When the account recovers out of the level that fired a run (a confirmed band change), what happens to the run's open tasks.", max_length=8),
        ),
        migrations.AddField(
            model_name='playbook',
            name='or_worse',
            field=models.BooleanField(default=True, help_text='Entered a risk level: also when the account goes straight to a worse one (e.g. At risk or worse).'),
        ),
        migrations.AddField(
            model_name='playbookrun',
            name='in_experiment',
            field=models.BooleanField(default=False, help_text="The account could have been held out (the playbook holds some out and it was within the hold-out's ARR limit): the effectiveness report compares these."),
        ),
        migrations.AddField(
            model_name='playbookrun',
            name='level',
            field=models.CharField(blank=True, choices=[('healthy', 'Healthy'), ('neutral', 'Neutral'), ('at_risk', 'At risk'), ('critical', 'Critical')], help_text="The risk level that caused the run (the level entered, or the account's level when it fired): recovering to a better one closes its work.", max_length=10),
        ),
        migrations.AddField(
            model_name='playbooksteprun',
            name='merged_task',
            field=models.ForeignKey(blank=True, help_text='The open task this step added to instead of making a second one.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='playbooks.task'),
        ),
        migrations.AddField(
            model_name='task',
            name='close_reason',
            field=models.CharField(blank=True, help_text='Why it closed without being done, e.g. “Resolved: back to Healthy on 12 Nov”.', max_length=200),
        ),
        migrations.AddField(
            model_name='task',
            name='closed_at',
            field=models.DateTimeField(blank=True, help_text='When it was resolved or cancelled.', null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='playbook_step',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='playbooks.playbookstep'),
        ),
        migrations.AlterField(
            model_name='playbook',
            name='trigger',
            field=models.CharField(choices=[('level_entered', 'Entered a risk level (or worse)'), ('band_changed', 'Band changed'), ('score_dropped', 'Score dropped by X points within N days'), ('score_below', 'Score below X'), ('renewal_within', 'Renewal within N days while in a band'), ('metric_threshold', 'Metric crossed a threshold'), ('account_created', 'Account created')], max_length=20),
        ),
        migrations.AlterField(
            model_name='playbookrun',
            name='status',
            field=models.CharField(choices=[('running', 'Running'), ('done', 'Done'), ('failed', 'Failed'), ('cancelled', 'Cancelled'), ('resolved', 'Resolved: the account recovered'), ('held_out', 'Held out (no tasks, no messages)'), ('skipped', 'Not acted on: a re-baseline')], default='running', max_length=10),
        ),
        migrations.AlterField(
            model_name='task',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('done', 'Done'), ('snoozed', 'Snoozed'), ('cancelled', 'Cancelled'), ('resolved', 'Resolved')], default='open', max_length=10),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='playbook',
            constraint=models.CheckConstraint(condition=models.Q(('holdout_pct__lte', 50)), name='playbook_holdout_at_most_half'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.UniqueConstraint(condition=models.Q(('playbook_step__isnull', False), ('status__in', ['open', 'snoozed'])), fields=('account', 'playbook_step'), name='task_one_open_per_step'),
        ),
    ]
