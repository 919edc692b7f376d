"""From triggering events to playbook runs, exactly once each.

Two sources of events:

- ``score_events_process``: the confirmed band changes and score drops the recompute
  writes as ``ScoreEvent`` rows, claimed in batches; the same batch closes the work of
  accounts that recovered (``playbooks.services.closing``);
- ``state_triggers_evaluate``: states checked periodically — score below X, renewal
  within N days, a metric crossing a threshold, a new account, and a score drop made of
  small steps (which the recompute records no event for).

Each trigger is a small function: ``EVENT_MATCHERS`` (``events``) say whether a score
event fires a playbook, ``STATE_CANDIDATES`` (``states``) find the accounts whose state
fires one. Both end in ``runs.runs_create``, which under a lock on the accounts applies
each playbook's cooldown, inserts the runs (unique per playbook, account and event key)
and their first step runs, all in the caller's transaction; ``backfill`` acts on the
events before a playbook was switched on.

Trust rules applied here:

- a playbook acts on events from its ``enabled_at`` on; earlier ones only through
  ``playbook_backfill``, an explicit action with a dry run first;
- an event that is a re-baseline (a new model version, not the account's data) fires
  nothing unless the playbook opts in; a state met while the account's latest scoring
  is a re-baseline is acknowledged instead: a run not acted on, under its own key
  ("rebaseline:<health score>"), which starts the cooldown, so the new version's
  judgement of a state is acted on only as a state that goes on holding would be;
- a hold-out share of the accounts is held out of the playbook (its runs for them are
  recorded as held out: no steps), chosen by a hash of (playbook, account): the same
  account is held out however often, and whoever makes its runs.
"""

from playbooks.services.triggers.backfill import Backfill, playbook_backfill
from playbooks.services.triggers.events import (
    EVENT_MATCHERS,
    score_events_process,
    score_events_process_all,
    window_max_scores,
)
from playbooks.services.triggers.runs import Candidate, TriggerResult
from playbooks.services.triggers.states import (
    CONTACT_LEFT_LOOKBACK,
    CREATED_LOOKBACK,
    OUTCOME_LOOKBACK,
    SIGNAL_LOOKBACK,
    STATE_CANDIDATES,
    state_triggers_evaluate,
)

__all__ = [
    "CONTACT_LEFT_LOOKBACK",
    "CREATED_LOOKBACK",
    "EVENT_MATCHERS",
    "OUTCOME_LOOKBACK",
    "SIGNAL_LOOKBACK",
    "STATE_CANDIDATES",
    "Backfill",
    "Candidate",
    "TriggerResult",
    "playbook_backfill",
    "score_events_process",
    "score_events_process_all",
    "state_triggers_evaluate",
    "window_max_scores",
]
