"""Executing the steps of playbook runs, each exactly once.

``step_run_execute`` takes a row lock on the step run and does everything a step does
— create the task, the delivery row, the field change; mark the step done; schedule the
next step — in one transaction. A redelivered message waits for the lock, finds the step
done and does nothing; a worker killed half-way leaves nothing behind, and the step is
simply done again by the next delivery (or the periodic tick).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from accounts.models import Account, User
from accounts.selectors import manager_of
from accounts.services import accounts_bulk_upsert
from config.tasking import each, send_on_commit
from contacts.models import Contact
from playbooks import matching
from playbooks.models import (
    PLACEHOLDERS,
    Delivery,
    Note,
    PlaybookRun,
    PlaybookStep,
    PlaybookStepRun,
    Task,
    render_text,
    set_field_clean,
)
from playbooks.services.common import StepError
from playbooks.services.outbound import (
    account_ref,
    delivery_enqueue,
    email_payload,
    json_body,
    task_event_enqueue,
)
from playbooks.services.telling import playbook_note_notify, task_given_notify

logger = logging.getLogger(__name__)


def step_context(*, run: PlaybookRun, account: Account) -> dict[str, str]:
    """Placeholder values for a run's step texts: all plain strings."""
    context = {name: "" for name in PLACEHOLDERS}
    context.update({k: str(v) for k, v in (run.context or {}).items() if k in PLACEHOLDERS})
    context["account"] = account.name
    context["owner"] = str(account.owner) if account.owner_id else "nobody"
    primary = Contact.objects.filter(
        account=account, status=Contact.Status.ACTIVE, is_primary=True
    ).first()
    context["contact"] = primary.name if primary else "the main contact"
    return context


@dataclass(frozen=True)
class Assignment:
    user: User | None
    note: str = ""


def assignee_resolve(*, step: PlaybookStep, account: Account) -> Assignment:
    """Who a task goes to. Owner's manager: ``accounts.selectors.manager_of``; when the
    owner has none, the owner. A named user who left: the owner. No owner: nobody, and
    the task says so (it stays visible to managers and admins through the account)."""
    owner = account.owner if account.owner_id else None
    rule = step.assignee_rule
    if rule == PlaybookStep.Assignee.USER:
        user = step.assignee_user
        if user is not None and user.is_active:
            return Assignment(user)
        who = str(user) if user is not None else "The named user"
        fallback = f"{who} is not active"
    elif rule == PlaybookStep.Assignee.OWNER_MANAGER:
        if owner is not None:
            manager = manager_of(user=owner)
            if manager is not None:
                return Assignment(manager)
            fallback = f"{owner} has no manager on a team"
        else:
            fallback = "the account has no owner"
    else:
        if owner is not None:
            return Assignment(owner)
        return Assignment(None, "Unassigned: the account has no owner.")
    if owner is not None:
        return Assignment(owner, f"Assigned to the account owner: {fallback}.")
    return Assignment(None, f"Unassigned: {fallback} and the account has no owner.")


def email_recipient_resolve(*, step: PlaybookStep, account: Account) -> str:
    """The address the step's email goes to: a given address; the account's primary
    contact, or its contact with the step's role (the primary one if it has that role,
    else the first by name), among those still there; the owner or the owner's manager."""
    recipient = PlaybookStep.Recipient
    if step.email_to == recipient.ADDRESS:
        return step.email_address
    if step.email_to in (recipient.PRIMARY_CONTACT, recipient.CONTACT_ROLE):
        contacts = Contact.objects.filter(account=account, status=Contact.Status.ACTIVE)
        if step.email_to == recipient.PRIMARY_CONTACT:
            contacts, wanted = contacts.filter(is_primary=True), "primary contact"
        else:
            role = step.email_contact_role
            contacts = contacts.filter(role=role)
            wanted = f"contact who is {role.name if role else 'in that role'}"
        found = contacts.order_by("-is_primary", "name", "id").first()
        if found is None:
            raise StepError(f"{account} has no {wanted} to email (among those still there).")
        return found.email
    owner = account.owner if account.owner_id else None
    if owner is None:
        raise StepError(f"{account} has no owner to email.")
    person = owner
    if step.email_to == PlaybookStep.Recipient.OWNER_MANAGER:
        person = manager_of(user=owner) or owner
    if not person.email:
        raise StepError(f"{person} has no email address.")
    return person.email


def _apply(step_run: PlaybookStepRun, *, now: dt.datetime, dispatch: bool) -> None:
    """Do what the step does (inside the caller's transaction). Raises ``StepError``."""
    step, run = step_run.step, step_run.run
    account = run.account
    context = step_context(run=run, account=account)
    kinds = PlaybookStep.Kind
    if step.kind == kinds.CREATE_TASK:
        _task_create_or_add_to(step_run, context=context, now=now, dispatch=dispatch)
    elif step.kind == kinds.SEND_EMAIL:
        recipient = email_recipient_resolve(step=step, account=account)
        subject = render_text(step.email_subject, context)
        body = render_text(step.email_body, context)
        delivery_enqueue(
            channel=Delivery.Channel.EMAIL,
            target=recipient,
            event="playbook.step",
            payload=email_payload(
                subject=subject,
                body=body,
                context={"account": account, "playbook": run.playbook, "site_name": "Vitals"},
            ),
            key=f"step_run:{step_run.pk}",
            now=now,
            account=account,
            step_run=step_run,
            dispatch=dispatch,
        )
    elif step.kind == kinds.POST_SLACK:
        url = step.slack_webhook_url or settings.SLACK_DEFAULT_WEBHOOK_URL
        if not url:
            raise StepError(
                "No Slack webhook URL: set one on the step or SLACK_DEFAULT_WEBHOOK_URL."
            )
        delivery_enqueue(
            channel=Delivery.Channel.SLACK,
            target=url,
            event="playbook.step",
            payload=json_body({"text": render_text(step.slack_text, context)}),
            key=f"step_run:{step_run.pk}",
            now=now,
            account=account,
            step_run=step_run,
            dispatch=dispatch,
        )
    elif step.kind == kinds.SEND_WEBHOOK:
        endpoint = step.webhook_endpoint
        if endpoint is None or not endpoint.is_active:
            raise StepError(f"The webhook endpoint {endpoint or '(none)'} is not active.")
        key = f"step_run:{step_run.pk}"
        data = {
            "playbook": {"id": run.playbook_id, "name": run.playbook.name},
            "run": {"id": run.pk, "event": run.event_key},
            "step": {"id": step.pk, "position": step.position},
            "account": account_ref(account),
            **{name: context[name] for name in ("score", "band", "previous_band", "delta")},
        }
        delivery_enqueue(
            channel=Delivery.Channel.WEBHOOK,
            target=endpoint.url,
            event="playbook.step",
            payload=json_body(
                {"event": "playbook.step", "id": key, "created_at": now.isoformat(), "data": data}
            ),
            key=key,
            now=now,
            endpoint=endpoint,
            account=account,
            step_run=step_run,
            dispatch=dispatch,
        )
    elif step.kind == kinds.SET_FIELD:
        # Through the account write path: its rules, its attribute merge, and no
        # account brought back should it have been deleted meanwhile.
        cleaned, problems = set_field_clean(step.field_name, step.field_value)
        if problems:
            raise StepError(problems[0][1])
        accounts_bulk_upsert(
            rows=[{**cleaned, "external_id": account.external_id}],
            merge_attributes=True,
            create=False,
            arr_source="playbook",
        )
    else:
        raise StepError(f"Unknown step kind {step.kind!r}.")


def _task_create_or_add_to(
    step_run: PlaybookStepRun, *, context: dict[str, str], now: dt.datetime, dispatch: bool
) -> Task:
    """The step's task: a new one, or — while the account still has an open task from
    this step — that task, with a note that the step was triggered again. The database
    holds one open task per account and step (task_one_open_per_step), so two runs racing
    here end with one task either way."""
    step, run, account = step_run.step, step_run.run, step_run.run.account
    open_task = Task.objects.filter(
        account=account, playbook_step=step, status__in=Task.ACTIVE
    ).first()
    if open_task is None:
        assignment = assignee_resolve(step=step, account=account)
        description = render_text(step.task_description, context)
        if assignment.note:
            description = f"{description}\n\n({assignment.note})".strip()
        try:
            with transaction.atomic():
                task = Task.objects.create(
                    account=account,
                    title=render_text(step.task_title, context)[:200],
                    description=description,
                    priority=step.task_priority,
                    due_date=matching.local_today(now) + dt.timedelta(days=step.task_due_in_days),
                    assignee=assignment.user,
                    origin_step_run=step_run,
                    playbook_step=step,
                    created_at=now,
                )
        except IntegrityError:
            open_task = Task.objects.get(
                account=account, playbook_step=step, status__in=Task.ACTIVE
            )
        else:
            task_event_enqueue(task=task, event="task.created", now=now, dispatch=dispatch)
            task_given_notify(task=task, by=run.playbook.name, now=now)
            return task
    why = ", ".join(
        part
        for part in (
            context.get("band"),
            f"score {context['score']}" if context.get("score") else "",
            context.get("delta"),
        )
        if part
    )
    note = Note.objects.create(
        account=account,
        task=open_task,
        body=f"Triggered again on {matching.local_today(now):%d %b %Y} by “{run.playbook.name}”"
        + (f" ({why})." if why else "."),
        created_at=now,
    )
    playbook_note_notify(note=note, task=open_task, now=now)
    step_run.merged_task = open_task
    step_run.save(update_fields=["merged_task"])
    return open_task


def _next_step(step_run: PlaybookStepRun) -> PlaybookStep | None:
    return (
        PlaybookStep.objects.filter(playbook_id=step_run.run.playbook_id)
        .filter(
            Q(position__gt=step_run.step.position)
            | Q(position=step_run.step.position, pk__gt=step_run.step_id)
        )
        .order_by("position", "pk")
        .first()
    )


def _execute_one(*, step_run_id: int, now: dt.datetime, dispatch: bool) -> tuple[int | None, bool]:
    """Execute one step run; returns (the next step run if it is due at once, executed?)."""
    PlaybookStepRun.objects.filter(pk=step_run_id, status=PlaybookStepRun.Status.WAITING).update(
        attempts=F("attempts") + 1
    )
    with transaction.atomic():
        step_run = (
            PlaybookStepRun.objects.select_for_update(of=("self",))
            .select_related(
                "run__playbook",
                "run__account__owner",
                "step__assignee_user",
                "step__webhook_endpoint",
            )
            .filter(pk=step_run_id)
            .first()
        )
        if (
            step_run is None
            or step_run.status != PlaybookStepRun.Status.WAITING
            or step_run.due_at > now
            or step_run.run.status != PlaybookRun.Status.RUNNING
        ):
            return None, False
        run = step_run.run
        try:
            with transaction.atomic():
                _apply(step_run, now=now, dispatch=dispatch)
        except StepError as exc:
            _fail(step_run, error=str(exc), now=now)
            return None, True
        step_run.status = PlaybookStepRun.Status.DONE
        step_run.done_at = now
        step_run.error = ""
        step_run.save(update_fields=["status", "done_at", "error"])
        following = _next_step(step_run)
        if following is None:
            PlaybookRun.objects.filter(pk=run.pk, status=PlaybookRun.Status.RUNNING).update(
                status=PlaybookRun.Status.DONE, finished_at=now
            )
            return None, True
        due_at = now + dt.timedelta(days=following.wait_days)
        next_run, _ = PlaybookStepRun.objects.get_or_create(
            run=run,
            step=following,
            defaults={"due_at": due_at, "dispatched_at": now if due_at <= now else None},
        )
        if due_at <= now:
            return next_run.pk, True
        return None, True


def _fail(step_run: PlaybookStepRun, *, error: str, now: dt.datetime) -> None:
    PlaybookStepRun.objects.filter(pk=step_run.pk).update(
        status=PlaybookStepRun.Status.FAILED, error=error[:2000], done_at=now
    )
    PlaybookRun.objects.filter(pk=step_run.run_id, status=PlaybookRun.Status.RUNNING).update(
        status=PlaybookRun.Status.FAILED, finished_at=now
    )
    logger.warning("step run %s failed: %s", step_run.pk, error)


def step_run_execute(
    *, step_run_id: int, now: dt.datetime, follow: bool = True, dispatch: bool = True
) -> int:
    """Execute a due step run exactly once; returns how many steps were executed.

    With ``follow``, the steps after it that wait no days are executed too, each in its
    own transaction (so a failing later step does not undo an earlier one). Without it,
    the next due step is sent to the workers. A step that is done, failed, not yet due
    or of a run no longer running is left alone.
    """
    executed = 0
    current: int | None = step_run_id
    while current is not None:
        following, did = _execute_one(step_run_id=current, now=now, dispatch=dispatch)
        executed += did
        if following is not None and not follow:
            if dispatch:
                send_on_commit("playbooks.tasks.run_step", each([following]))
            break
        current = following
    return executed


def step_run_fail(*, step_run_id: int, error: str, now: dt.datetime) -> None:
    """Record an unexpected error of a step: the step and its run fail, visibly in admin."""
    step_run = PlaybookStepRun.objects.filter(
        pk=step_run_id, status=PlaybookStepRun.Status.WAITING
    ).first()
    if step_run is not None:
        _fail(step_run, error=error, now=now)


def step_runs_due_execute(
    *, now: dt.datetime, dispatch: bool = False, limit: int | None = None
) -> int:
    """Execute every due step run in this process (commands, the demo, tests)."""
    executed = 0
    ids = PlaybookStepRun.objects.filter(
        status=PlaybookStepRun.Status.WAITING,
        due_at__lte=now,
        run__status=PlaybookRun.Status.RUNNING,
    ).order_by("due_at", "pk")
    for step_run_id in list(ids.values_list("pk", flat=True)[:limit]):
        executed += step_run_execute(step_run_id=step_run_id, now=now, dispatch=dispatch)
    return executed


@transaction.atomic
def playbook_run_cancel(*, run: PlaybookRun, now: dt.datetime) -> bool:
    """Stop a running run: its waiting steps are never executed. Tasks it made stay."""
    return bool(
        PlaybookRun.objects.filter(pk=run.pk, status=PlaybookRun.Status.RUNNING).update(
            status=PlaybookRun.Status.CANCELLED, finished_at=now
        )
    )
