from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from playbooks.services import (
    deliveries_due_send,
    score_events_process_all,
    state_triggers_evaluate,
    step_runs_due_execute,
)


class Command(BaseCommand):
    help = (
        "Do in this process what the workers do in the background: turn new band changes "
        "and score drops into playbook runs, evaluate the state triggers, execute the due "
        "steps and send the due deliveries. Safe to run any time, alongside workers too: "
        "everything is done once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-deliveries",
            action="store_true",
            help="leave emails, Slack posts and webhooks to the workers",
        )

    def handle(self, *args, no_deliveries: bool, **options) -> None:
        now = timezone.now()
        events = score_events_process_all(now=now, dispatch=False)
        self.stdout.write(f"Score events: {events.events} processed, {events.runs} runs.")
        states = state_triggers_evaluate(now=now, dispatch=False)
        self.stdout.write(f"State triggers: {states.runs} runs.")
        steps = step_runs_due_execute(now=now)
        self.stdout.write(f"Steps executed: {steps}.")
        if not no_deliveries:
            counts = deliveries_due_send(now=now)
            self.stdout.write(
                "Deliveries: {sent} sent, {retry} to retry, {failed} failed.".format(**counts)
            )
