"""The demo book comes with playbooks, and with tasks in the queues on first log-in."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from playbooks.models import Playbook, PlaybookRun, Task

pytestmark = pytest.mark.django_db


def seed_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.slow
def test_the_demo_has_playbooks_runs_and_tasks_and_seeding_again_adds_none():
    output = seed_demo("--accounts", "60", "--days", "45")

    assert set(Playbook.objects.values_list("name", flat=True)) == {
        "Entered At risk or worse",
        "Renewal risk review",
        "Score dropped 15+ points",
    }
    runs, tasks = PlaybookRun.objects.count(), Task.objects.count()
    assert runs > 0 and tasks >= runs - PlaybookRun.objects.filter(status="held_out").count()
    assert f"3 playbooks; {runs} runs" in output and f"{tasks} tasks" in output
    assert Task.objects.filter(assignee__username__startswith="csm").exists()
    for playbook in Playbook.objects.all():
        playbook.full_clean()  # the demo's playbooks pass admin's checks

    seed_demo("--accounts", "60", "--days", "45")
    assert (PlaybookRun.objects.count(), Task.objects.count()) == (runs, tasks)
    assert Playbook.objects.count() == 3
