"""The dry run of a playbook on one account: would it fire now, and what would it create?

Read-only: it evaluates the trigger, conditions and cooldown as the real evaluation
does (through ``playbooks.matching``) and describes each step's task or delivery,
without writing anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from accounts.models import Account
from accounts.selectors import is_customer
from contacts.models import Contact
from playbooks import matching
from playbooks.models import Playbook, PlaybookRun, PlaybookStep, render_text, set_field_errors
from playbooks.services.common import StepError
from playbooks.services.steps import assignee_resolve, email_recipient_resolve
from playbooks.services.triggers import (
    CONTACT_LEFT_LOOKBACK,
    CREATED_LOOKBACK,
    OUTCOME_LOOKBACK,
    SIGNAL_LOOKBACK,
    window_max_scores,
)
from renewals.models import RenewalOutcome
from scoring.formatting import format_delta, format_score
from scoring.models import AccountHealth, ScoreEvent, Signal


@dataclass
class DryRunStep:
    position: int
    kind: str
    runs_at: dt.datetime
    creates: str
    details: list[tuple[str, str]] = field(default_factory=list)
    problem: str = ""


@dataclass
class DryRun:
    playbook: Playbook
    account: Account
    trigger_matched: bool
    trigger_detail: str
    event_key: str | None
    conditions: list[matching.ConditionCheck]
    cooldown_ok: bool
    cooldown_detail: str
    already_fired: bool
    context: dict[str, str]
    steps: list[DryRunStep]

    @property
    def conditions_ok(self) -> bool:
        return all(c.ok for c in self.conditions)

    @property
    def would_fire(self) -> bool:
        return (
            self.playbook.is_active
            and self.trigger_matched
            and self.conditions_ok
            and self.cooldown_ok
            and not self.already_fired
        )


# --- The trigger, now: one small check per trigger kind -------------------------------------

# (matched, explanation, event key, placeholder values)
Verdict = tuple[bool, str, str | None, dict[str, str]]


@dataclass
class Look:
    """What every trigger check starts from: the account's latest score, now."""

    playbook: Playbook
    account: Account
    now: dt.datetime
    health: AccountHealth | None
    score: float | None
    band: str
    context: dict[str, str]


def _band_change(look: Look) -> Verdict:
    playbook, t = look.playbook, Playbook.Trigger
    ev = (
        ScoreEvent.objects.filter(account=look.account, kind=ScoreEvent.Kind.BAND_CHANGED)
        .select_related("from_band", "to_band", "health_score")
        .order_by("-id")
        .first()
    )
    if ev is None:
        return False, "No band change has been recorded for this account.", None, look.context
    before = ev.from_band.name if ev.from_band else ""
    after = ev.to_band.name if ev.to_band else ""
    context = matching.band_change_context(
        score=ev.score_after, to_band=ev.to_band, from_band=ev.from_band, delta=ev.delta
    )
    if playbook.trigger == t.LEVEL_ENTERED:
        ok = playbook.level_entered(from_level=ev.from_level, to_level=ev.to_level)
    else:
        ok = matching.band_change_matches(playbook=playbook, from_name=before, to_name=after)
    detail = (
        f"Latest confirmed band change: {before or 'no band'} → {after or 'no band'} "
        f"(computed {ev.health_score.computed_at:%Y-%m-%d %H:%M})"
    )
    if ev.rebaseline and not playbook.on_rebaseline:
        ok = False
        detail += "; a re-baseline (a new model version), which this playbook ignores"
    if playbook.enabled_at and ev.created_at < playbook.enabled_at:
        ok = False
        detail += "; before the playbook was switched on (a backfill would act on it)"
    return ok, detail, f"score_event:{ev.pk}", context


def _score_dropped(look: Look) -> Verdict:
    playbook, health, score, context = look.playbook, look.health, look.score, look.context
    if health is None or score is None:
        return False, "The account has no score yet.", None, context
    within_days = matching.trigger_setting(playbook, "within_days", playbook.within_days)
    drop_points = matching.trigger_setting(playbook, "drop_points", playbook.drop_points)
    highest = window_max_scores(
        health_score_ids=[health.health_score_id], within_days=within_days
    ).get(health.health_score_id)
    if highest is None:
        detail = f"No earlier score in the {within_days} days before the latest one."
        return False, detail, None, context
    drop = highest - score
    context["delta"] = format_delta(score - highest)
    event = ScoreEvent.objects.filter(
        health_score_id=health.health_score_id, kind=ScoreEvent.Kind.SCORE_DROPPED
    ).first()
    key = f"score_event:{event.pk}" if event else f"score_drop:{health.health_score_id}"
    detail = (
        f"Latest score {format_score(score)}; highest of the {within_days} days "
        f"before: {format_score(highest)} (a drop of {format_score(drop)} points)"
    )
    return drop >= drop_points, detail, key, context


def _score_below(look: Look) -> Verdict:
    playbook, health, score = look.playbook, look.health, look.score
    if health is None or score is None:
        return False, "The account has no score yet.", None, look.context
    threshold = matching.trigger_setting(playbook, "score_threshold", playbook.score_threshold)
    detail = f"Score {format_score(score)} (fires below {threshold:g})"
    key = f"score_below:{health.health_score_id}"
    return score < threshold, detail, key, look.context


def _renewal_within(look: Look) -> Verdict:
    playbook, account, band = look.playbook, look.account, look.band
    if account.renewal_date is None:
        return False, "The account has no renewal date.", None, look.context
    days = (account.renewal_date - matching.local_today(look.now)).days
    renewal_days = matching.trigger_setting(playbook, "renewal_days", playbook.renewal_days)
    in_window = 0 <= days <= renewal_days
    band_ok = matching.renewal_band_matches(
        playbook=playbook, band_name=band or None, scored=look.health is not None
    )
    detail = (
        f"Renews on {account.renewal_date:%Y-%m-%d} ({days} days away; fires within "
        f"{renewal_days}); band {band or 'none'}"
        f"{'' if band_ok else ' does not match'}"
    )
    key = f"renewal:{account.renewal_date.isoformat()}"
    return in_window and band_ok, detail, key, look.context


def _metric_threshold(look: Look) -> Verdict:
    playbook, context = look.playbook, look.context
    metric = matching.trigger_setting(playbook, "metric", playbook.metric)
    signals = list(
        Signal.objects.filter(account=look.account, metric=metric, timestamp__lte=look.now)
        .order_by("-timestamp", "-id")
        .values_list("pk", "value", "created_at")[:2]
    )
    if not signals:
        return False, f"No {metric.key} signal for this account.", None, context
    pk, value, created_at = signals[0]
    previous = signals[1][1] if len(signals) > 1 else None
    context["delta"] = format_delta(None if previous is None else value - previous)
    ok = matching.crossed(playbook=playbook, value=value, previous=previous)
    detail = (
        f"Newest {metric.key}: {value:g}{'' if previous is None else f' (previous {previous:g})'}"
    )
    if ok and created_at < look.now - SIGNAL_LOOKBACK:
        ok = False
        detail += "; stored too long ago for the periodic check to look at it"
    return ok, detail, f"signal:{pk}", context


def _account_created(look: Look) -> Verdict:
    created = look.account.created_at
    ok = look.now - CREATED_LOOKBACK <= created <= look.now
    detail = f"Created {created:%Y-%m-%d %H:%M}" + ("" if ok else " (fires only on the first day)")
    return ok, detail, f"account_created:{look.account.pk}", look.context


def _contact_left(look: Look) -> Verdict:
    role = look.playbook.contact_role
    gone = (
        Contact.objects.filter(
            account=look.account,
            role=role,
            status=Contact.Status.LEFT,
            updated_at__gte=look.now - CONTACT_LEFT_LOOKBACK,
            updated_at__lte=look.now,
        )
        .order_by("-updated_at", "-id")
        .first()
    )
    if gone is None:
        return (
            False,
            f"No {role.name if role else 'such'} contact left in the last 7 days.",
            None,
            look.context,
        )
    detail = f"{gone.name} ({gone.email}) left on {gone.left_at:%Y-%m-%d}"
    return True, detail, f"contact_left:{gone.pk}", look.context


def _outcome_recorded(look: Look) -> Verdict:
    kinds = look.playbook.outcome_kind_list
    outcomes = RenewalOutcome.objects.filter(
        account=look.account,
        recorded_at__gte=look.now - OUTCOME_LOOKBACK,
        recorded_at__lte=look.now,
    )
    if kinds:
        outcomes = outcomes.filter(kind__in=kinds)
    outcome = outcomes.order_by("-recorded_at", "-id").first()
    if outcome is None:
        which = " or ".join(kinds) if kinds else "renewal"
        return False, f"No {which} outcome recorded in the last 7 days.", None, look.context
    detail = (
        f"{outcome.get_kind_display()} at the renewal of {outcome.renewal_date:%Y-%m-%d} "
        f"(ARR {outcome.arr_before:,.0f} → {outcome.arr_after:,.0f})"
    )
    return True, detail, f"outcome:{outcome.pk}", look.context


TRIGGER_CHECKS: dict[str, Callable[[Look], Verdict]] = {
    Playbook.Trigger.BAND_CHANGED: _band_change,
    Playbook.Trigger.LEVEL_ENTERED: _band_change,
    Playbook.Trigger.SCORE_DROPPED: _score_dropped,
    Playbook.Trigger.SCORE_BELOW: _score_below,
    Playbook.Trigger.RENEWAL_WITHIN: _renewal_within,
    Playbook.Trigger.METRIC_THRESHOLD: _metric_threshold,
    Playbook.Trigger.ACCOUNT_CREATED: _account_created,
    Playbook.Trigger.CONTACT_LEFT: _contact_left,
    Playbook.Trigger.OUTCOME_RECORDED: _outcome_recorded,
}


def _trigger(playbook: Playbook, account: Account, now: dt.datetime) -> Verdict:
    """Whether ``playbook``'s trigger holds for ``account`` now, and why."""
    health = AccountHealth.objects.filter(account=account).select_related("band").first()
    score = health.score if health else None
    band = health.band.name if health and health.band else ""
    context = {"score": format_score(score), "band": band}
    look = Look(playbook, account, now, health, score, band, context)
    return TRIGGER_CHECKS[playbook.trigger](look)


def _describe_step(
    step: PlaybookStep, account: Account, context: dict[str, str], runs_at: dt.datetime
) -> DryRunStep:
    k = PlaybookStep.Kind
    out = DryRunStep(
        position=step.position, kind=step.get_kind_display(), runs_at=runs_at, creates=""
    )
    if step.kind == k.CREATE_TASK:
        assignment = assignee_resolve(step=step, account=account)
        due = matching.local_today(runs_at) + dt.timedelta(days=step.task_due_in_days)
        out.creates = f"Task “{render_text(step.task_title, context)}”"
        out.details = [
            ("Assignee", str(assignment.user) if assignment.user else "nobody"),
            ("Priority", step.get_task_priority_display()),
            ("Due", f"{due:%Y-%m-%d}"),
        ]
        if assignment.note:
            out.details.append(("Note", assignment.note))
    elif step.kind == k.SEND_EMAIL:
        out.creates = f"Email “{render_text(step.email_subject, context)}”"
        try:
            out.details = [("To", email_recipient_resolve(step=step, account=account))]
        except StepError as exc:
            out.problem = str(exc)
    elif step.kind == k.POST_SLACK:
        url = step.slack_webhook_url or settings.SLACK_DEFAULT_WEBHOOK_URL
        out.creates = "Slack message"
        out.details = [
            ("Webhook host", urlsplit(url).netloc if url else "none"),
            ("Text", render_text(step.slack_text, context)),
        ]
        if not url:
            out.problem = "No Slack webhook URL."
    elif step.kind == k.SEND_WEBHOOK:
        endpoint = step.webhook_endpoint
        out.creates = f"Signed webhook to {endpoint or '(no endpoint)'}"
        if endpoint is not None:
            out.details = [("URL", endpoint.url)]
        if endpoint is None or not endpoint.is_active:
            out.problem = "The endpoint is not active."
    elif step.kind == k.SET_FIELD:
        current = (
            (account.attributes or {}).get(step.field_name.removeprefix("attributes."), "—")
            if step.field_name.startswith("attributes.")
            else getattr(account, step.field_name, "—")
        )
        out.creates = f"Set {step.field_name} = {step.field_value}"
        out.details = [("Now", str(current))]
        problems = set_field_errors(step.field_name, step.field_value)
        if problems:
            out.problem = problems[0][1]
    return out


def playbook_dry_run(*, playbook: Playbook, account: Account, now: dt.datetime) -> DryRun:
    """What ``playbook`` would do for ``account`` at ``now``; creates nothing."""
    matched, detail, key, trigger_context = _trigger(playbook, account, now)
    today = matching.local_today(now)
    level = AccountHealth.objects.filter(account=account).values_list("level", flat=True).first()
    conditions = matching.conditions_check(
        playbook=playbook, account=account, team_members=None, level=level or ""
    )
    if not is_customer(account.churned_at, on=today):
        conditions.insert(
            0,
            matching.ConditionCheck(
                "Not churned", "active", f"churned {account.churned_at}", False
            ),
        )
    last = (
        PlaybookRun.objects.filter(playbook=playbook, account=account)
        .order_by("-created_at")
        .first()
    )
    cooldown_ok = True
    if last is None:
        cooldown_detail = "Never fired for this account."
    else:
        until = last.created_at + dt.timedelta(days=playbook.cooldown_days)
        cooldown_ok = not playbook.cooldown_days or until <= now
        cooldown_detail = f"Last fired {last.created_at:%Y-%m-%d %H:%M}" + (
            "" if cooldown_ok else f"; cooling down until {until:%Y-%m-%d %H:%M}"
        )
    already = (
        key is not None
        and PlaybookRun.objects.filter(playbook=playbook, account=account, event_key=key).exists()
    )
    context = {"previous_band": "", "delta": "", **trigger_context}
    context["account"] = account.name
    context["owner"] = str(account.owner) if account.owner_id else "nobody"
    steps = []
    runs_at = now
    for step in playbook.steps.select_related("assignee_user", "webhook_endpoint").order_by(
        "position", "pk"
    ):
        runs_at = runs_at + dt.timedelta(days=step.wait_days)
        steps.append(_describe_step(step, account, context, runs_at))
    return DryRun(
        playbook=playbook,
        account=account,
        trigger_matched=matched,
        trigger_detail=detail,
        event_key=key,
        conditions=conditions,
        cooldown_ok=cooldown_ok,
        cooldown_detail=cooldown_detail,
        already_fired=already,
        context=context,
        steps=steps,
    )
