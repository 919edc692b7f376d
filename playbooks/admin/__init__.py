"""The playbooks admin, by topic (each module registers its pages):

- ``playbooks``: playbooks with their steps, a dry run, a backfill, effectiveness;
- ``runs``: playbook runs and their step runs (read-only; cancel);
- ``tasks``: tasks and their notes;
- ``endpoints``: webhook endpoints and deliveries (read-only; retry now).

Every change goes through ``playbooks.services``, as the API's and the pages' do, with
the same refusals and side effects.
"""

from playbooks.admin import endpoints, playbooks, runs, tasks

__all__ = ["endpoints", "playbooks", "runs", "tasks"]
