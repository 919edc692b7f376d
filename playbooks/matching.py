"""Which accounts and events a playbook matches: the rules shared by the set-based
trigger evaluation (``playbooks.services.triggers``) and the dry run
(``playbooks.selectors.playbook_dry_run``), so that the two cannot disagree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, RiskLevel, levels_at_or_worse
from playbooks.models import Playbook
from scoring.formatting import format_delta, format_score

T = TypeVar("T")


def trigger_setting(playbook: Playbook, field: str, value: T | None) -> T:
    """``value``, the playbook's ``field``: a setting its trigger needs, which
    ``Playbook.clean`` requires. None here is a playbook saved around that validation; it
    is refused by name rather than by a comparison with None further on."""
    if value is None:
        raise ValueError(
            f"Playbook {playbook.pk} ({playbook}) has no {field}; its trigger needs one."
        )
    return value


def conditions_q(*, playbook: Playbook, prefix: str = "") -> Q:
    """The playbook's conditions as a filter on accounts (``prefix`` = "account__" from
    a related model). Empty conditions add nothing."""
    q = Q()
    if playbook.segment:
        q &= Q(**{f"{prefix}segment": playbook.segment})
    if playbook.plan:
        q &= Q(**{f"{prefix}plan": playbook.plan})
    if playbook.lifecycle_stage:
        q &= Q(**{f"{prefix}lifecycle_stage": playbook.lifecycle_stage})
    if playbook.arr_min is not None:
        q &= Q(**{f"{prefix}arr__gte": playbook.arr_min})
    if playbook.arr_max is not None:
        q &= Q(**{f"{prefix}arr__lte": playbook.arr_max})
    if playbook.owner_team_id is not None:
        q &= Q(**{f"{prefix}owner__teams": playbook.owner_team_id})
    if playbook.level_at_least:
        q &= Q(**{f"{prefix}health__level__in": levels_at_or_worse(playbook.level_at_least)})
    return q


@dataclass(frozen=True)
class ConditionCheck:
    label: str
    wanted: str
    actual: str
    ok: bool


def conditions_check(
    *, playbook: Playbook, account: Account, team_members: set[int] | None, level: str = ""
) -> list[ConditionCheck]:
    """Each condition the playbook sets, against ``account`` at risk ``level`` (its
    confirmed level; no queries when ``team_members`` — the owner team's member ids — is
    given or not needed)."""
    checks = []
    if playbook.segment:
        checks.append(
            ConditionCheck(
                "Segment",
                playbook.get_segment_display(),
                account.get_segment_display(),
                account.segment == playbook.segment,
            )
        )
    if playbook.plan:
        checks.append(
            ConditionCheck(
                "Plan", playbook.plan, account.plan or "—", account.plan == playbook.plan
            )
        )
    if playbook.lifecycle_stage:
        checks.append(
            ConditionCheck(
                "Lifecycle stage",
                playbook.get_lifecycle_stage_display(),
                account.get_lifecycle_stage_display(),
                account.lifecycle_stage == playbook.lifecycle_stage,
            )
        )
    if playbook.arr_min is not None:
        checks.append(
            ConditionCheck(
                "ARR at least",
                f"{playbook.arr_min:,.0f}",
                f"{account.arr:,.0f}",
                account.arr >= playbook.arr_min,
            )
        )
    if playbook.arr_max is not None:
        checks.append(
            ConditionCheck(
                "ARR at most",
                f"{playbook.arr_max:,.0f}",
                f"{account.arr:,.0f}",
                account.arr <= playbook.arr_max,
            )
        )
    # No query for the team when it is not set; it is loaded for its name when it is.
    if playbook.owner_team is not None:
        if team_members is None:
            team_members = set(playbook.owner_team.members.values_list("pk", flat=True))
        checks.append(
            ConditionCheck(
                "Owner's team",
                str(playbook.owner_team),
                str(account.owner) if account.owner_id else "no owner",
                account.owner_id in team_members,
            )
        )
    if playbook.level_at_least:
        checks.append(
            ConditionCheck(
                "Risk level",
                f"{RiskLevel(playbook.level_at_least).label} or worse",
                RiskLevel(level).label if level else "not scored",
                bool(level) and level in levels_at_or_worse(playbook.level_at_least),
            )
        )
    return checks


def conditions_match(
    *, playbook: Playbook, account: Account, team_members: set[int] | None, level: str = ""
) -> bool:
    return all(
        c.ok
        for c in conditions_check(
            playbook=playbook, account=account, team_members=team_members, level=level
        )
    )


def band_change_matches(*, playbook: Playbook, from_name: str | None, to_name: str | None) -> bool:
    """Band names, not band rows: each model version has its own Band rows."""
    if (to_name or "") != playbook.to_band_name:
        return False
    return not playbook.from_band_name or (from_name or "") == playbook.from_band_name


def crossed(*, playbook: Playbook, value: float, previous: float | None) -> bool:
    """Whether ``value`` crossed the playbook's threshold coming from ``previous``; with no
    previous observation, being past the threshold counts as crossing it."""
    threshold = trigger_setting(playbook, "threshold", playbook.threshold)
    if playbook.direction == Playbook.Direction.ABOVE:
        return value > threshold and (previous is None or previous <= threshold)
    return value < threshold and (previous is None or previous >= threshold)


def renewal_band_matches(*, playbook: Playbook, band_name: str | None, scored: bool) -> bool:
    """``renewal_band_q`` for one account: its band now (None without one) and whether it
    has a score at all. Naming bands asks for a score: an account never scored is in no
    band, so it is not "outside" the named ones either."""
    names = playbook.band_name_list
    if not names:
        return True
    if playbook.band_names_exclude:
        return scored and band_name not in names
    return band_name in names


def renewal_band_q(*, playbook: Playbook, prefix: str = "") -> Q:
    names = playbook.band_name_list
    if not names:
        return Q()
    in_bands = Q(**{f"{prefix}health__band__name__in": names})
    if playbook.band_names_exclude:
        return Q(**{f"{prefix}health__isnull": False}) & ~in_bands
    return in_bands


def local_today(now: dt.datetime) -> dt.date:
    return timezone.localdate(now)


def band_change_context(*, score, to_band, from_band, delta) -> dict[str, str]:
    """The placeholders a band change gives its playbook's texts. A first score has no
    band before it and no change: they read "Not scored" and "first score", as the
    pages say, rather than leave a hole in the sentence."""
    return {
        "score": format_score(score),
        "band": to_band.name if to_band is not None else "",
        "previous_band": from_band.name if from_band is not None else "Not scored",
        "delta": format_delta(delta) or "first score",
    }
