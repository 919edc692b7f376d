"""A manager's overview of their teams: per member, the accounts they own by risk level,
ARR at risk, churned accounts, open and overdue tasks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Prefetch

from accounts.models import AT_RISK_LEVELS, RiskLevel, Team, User
from accounts.selectors import customers_q, teams_managed_by
from playbooks.models import Task
from playbooks.selectors.tasks import overdue_counts_by_assignee
from scoring.figures import book_figures


@dataclass
class TeamMemberRow:
    """One person's line on the team page: their customers per risk level."""

    user: User
    levels: list[int]
    unscored: int
    accounts: int
    arr_at_risk: float
    churned: int
    open_tasks: int
    overdue_tasks: int


@dataclass
class TeamOverview:
    levels: list[tuple[str, str]]
    teams: list[tuple[Team, list[TeamMemberRow]]]
    unowned: int = 0  # customers nobody owns, for the manager to hand out


def team_overview(*, user: User, today: dt.date) -> TeamOverview:
    """Per member of each team ``user`` manages (every team for an admin): customers per
    risk level of their confirmed band, ARR at risk, churned accounts, open and overdue
    tasks. A fixed number of queries whatever the size of the teams and their books:
    teams with their members, the members' figures by owner and level (the book's
    figures, ``scoring.figures``: no aggregate over their accounts), their accounts
    whose churn date is still ahead, open tasks, overdue tasks."""
    teams = list(
        teams_managed_by(user=user)
        .order_by("name")
        .prefetch_related(Prefetch("members", queryset=User.objects.order_by("first_name")))
    )
    ids = sorted({member.pk for team in teams for member in team.members.all()})
    # With the figures' "no owner" (0): the customers nobody owns yet.
    figures = book_figures(user=user, today=today, by=("owner_id", "level"), owners=[*ids, 0])
    per_level: dict[int, dict[str, int]] = {}
    at_risk: dict[int, float] = {}
    for (owner, level), tally in figures.customers.items():
        per_level.setdefault(owner, {})[level] = tally.accounts
        if level in AT_RISK_LEVELS:
            at_risk[owner] = at_risk.get(owner, 0.0) + float(tally.arr)
    churned: dict[int, int] = {}
    for (owner, _), tally in figures.churned.items():
        churned[owner] = churned.get(owner, 0) + tally.accounts
    open_tasks = {
        row["assignee_id"]: row["n"]
        for row in Task.objects.filter(assignee_id__in=ids, status__in=Task.ACTIVE)
        .filter(customers_q(on=today, prefix="account__"))
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .order_by()
    }
    overdue = overdue_counts_by_assignee(users=list(ids), today=today)
    overview = TeamOverview(
        levels=list(RiskLevel.choices),
        teams=[],
        unowned=sum(per_level.get(0, {}).values()),
    )
    for team in teams:
        rows = []
        for member in team.members.all():
            counts = per_level.get(member.pk, {})
            rows.append(
                TeamMemberRow(
                    user=member,
                    levels=[counts.get(level, 0) for level, _ in RiskLevel.choices],
                    unscored=counts.get("", 0),
                    accounts=sum(counts.values()),
                    arr_at_risk=at_risk.get(member.pk, 0.0),
                    churned=churned.get(member.pk, 0),
                    open_tasks=open_tasks.get(member.pk, 0),
                    overdue_tasks=overdue.get(member.pk, 0),
                )
            )
        overview.teams.append((team, rows))
    return overview
