"""Ada (CS ops) tunes the scoring in the Django admin: she edits drafts, is told plainly
what is wrong with them, previews a draft on real accounts, activates it and starts
recomputes. Active versions stay exactly as they were scored."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from scoring.analysis.preview import preview_accounts
from scoring.models import (
    AccountHealth,
    Band,
    CsmSentiment,
    HealthScore,
    ScoreEvent,
    ScoringModel,
    ScoringRun,
)
from scoring.services import (
    recompute_now,
    scoring_model_activate,
    scoring_model_new_version,
    scoring_run_create,
    scoring_run_execute,
)
from tests.factories import AccountFactory
from tests.scoring.builders import add_signal, make_metric, make_model

SCORECARD = [
    {"metric": "usage", "rule": "passthrough", "weight": 60},
    {"metric": "nps", "rule": "linear", "params": {"worst": -100, "best": 100}, "weight": 40},
]
BANDS = [("At risk", 0), ("Neutral", 50), ("Healthy", 75)]


def change_url(model: ScoringModel) -> str:
    return reverse("admin:scoring_scoringmodel_change", args=[model.pk])


def form_data(model: ScoringModel, *, components=None, bands=None, **fields) -> dict:
    """The POST of the model's change page, with its rows as they are unless replaced.

    ``components`` and ``bands`` are lists of dicts of field values; a dict with an
    ``id`` edits that row, one without adds a row, ``DELETE: "on"`` removes it."""
    if components is None:
        components = [
            {
                "id": c.pk,
                "metric": c.metric_id,
                "label": c.label,
                "position": c.position,
                "weight": c.weight,
                "rule": c.rule,
                "params": c.params,
                "missing": c.missing,
                "default_value": c.default_value,
            }
            for c in model.components.order_by("position", "id")
        ]
    if bands is None:
        bands = [
            {"id": b.pk, "name": b.name, "lower": b.lower, "color": b.color, "level": b.level}
            for b in model.bands.all()
        ]
    data = {
        "name": model.name,
        "description": model.description,
        "kind": model.kind,
        "segment": model.segment,
        "plan": model.plan,
        "lifecycle_stage": model.lifecycle_stage,
        **fields,
    }
    for prefix, rows, initial in (
        ("components", components, model.components.count()),
        ("bands", bands, model.bands.count()),
    ):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": len(rows),
                f"{prefix}-INITIAL_FORMS": initial,
                f"{prefix}-MIN_NUM_FORMS": 0,
                f"{prefix}-MAX_NUM_FORMS": 1000,
            }
        )
        for i, row in enumerate(rows):
            row = {"model": model.pk, **row}
            for name, value in row.items():
                if name == "params":
                    value = json.dumps(value)
                data[f"{prefix}-{i}-{name}"] = "" if value is None else value
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def draft(db) -> ScoringModel:
    return make_model("health", components=SCORECARD, bands=BANDS, activate=False)


@pytest.fixture
def ada_admin(ada, client_as):
    return client_as(ada)


# --- Validation that explains itself -----------------------------------------------------


def test_weights_that_do_not_sum_to_100_are_refused_with_their_sum(ada_admin, draft):
    data = form_data(draft)
    data["components-1-weight"] = "30"

    response = ada_admin.post(change_url(draft), data)

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == ["Weights sum to 90 %; they must sum to 100 % (Usage 60, Nps 30)."]
    assert "Weights sum to 90 %" in response.content.decode()
    assert draft.components.get(metric__key="nps").weight == 40


def test_overlapping_bands_are_refused_naming_the_bands(ada_admin, draft):
    data = form_data(draft)
    data["bands-2-lower"] = "50"

    response = ada_admin.post(change_url(draft), data)

    errors = response.context["inline_admin_formsets"][1].formset.non_form_errors()
    assert errors == [
        "Two bands start at the same score (Neutral and Healthy at 50): bands must not overlap."
    ]
    assert draft.bands.get(name="Healthy").lower == 75


def test_weighted_bands_must_cover_zero_and_open_below_only_once(ada_admin, draft):
    data = form_data(draft)
    data["bands-0-lower"] = "10"
    response = ada_admin.post(change_url(draft), data)
    assert response.context["inline_admin_formsets"][1].formset.non_form_errors() == [
        "No band covers scores below 10: start the lowest band at 0 or leave it open below."
    ]

    data = form_data(draft)
    data["bands-0-lower"] = data["bands-1-lower"] = ""
    response = ada_admin.post(change_url(draft), data)
    assert response.context["inline_admin_formsets"][1].formset.non_form_errors() == [
        "Only one band can be open below."
    ]


def test_bad_rule_parameters_are_refused_naming_the_component(ada_admin, draft):
    data = form_data(draft)
    data["components-1-params"] = json.dumps({"worst": -100})
    data["components-0-rule"] = "per_unit"
    data["components-0-params"] = json.dumps({"points": 5})

    response = ada_admin.post(change_url(draft), data)

    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert errors == [
        "Usage: Points per unit belong to points models; use a 0–100 rule here.",
        'Nps: A linear range needs numbers "worst" (scores 0) and "best" (scores 100).',
    ]
    assert draft.components.get(metric__key="usage").rule == "passthrough"


def test_per_unit_is_fine_in_a_points_model(ada_admin):
    model = make_model(
        "impact",
        kind="points",
        components=[{"metric": "tenure", "rule": "per_unit", "params": {"points": 10}}],
        bands=[("Critical", None), ("Stable", 0)],
        activate=False,
    )
    data = form_data(model)
    data["components-0-params"] = json.dumps({"points": -5})

    response = ada_admin.post(change_url(model), data)

    assert response.status_code == 302
    assert model.components.get().params == {"points": -5}


def test_a_metric_used_twice_is_refused(ada_admin, draft):
    data = form_data(draft)
    data["components-1-metric"] = data["components-0-metric"]

    response = ada_admin.post(change_url(draft), data)

    assert response.context["inline_admin_formsets"][0].formset.non_form_errors() == [
        "Usage is in rows 1 and 2: a metric can appear once in a model."
    ]


def test_a_valid_edit_is_saved_even_when_rows_swap_values(ada_admin, draft):
    data = form_data(draft)
    data["components-0-weight"], data["components-1-weight"] = "25", "75"
    # Neutral and Healthy swap bounds and names: the constraints hold only at the end.
    data["bands-1-name"], data["bands-2-name"] = "Healthy", "Neutral"
    data["bands-1-lower"], data["bands-2-lower"] = "75", "50"
    data["bands-2-color"] = "#16a34a"

    response = ada_admin.post(change_url(draft), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    assert [(c.metric.key, c.weight) for c in draft.components.order_by("position")] == [
        ("usage", 25),
        ("nps", 75),
    ]
    assert [(b.name, b.lower, b.color) for b in draft.bands.all()] == [
        ("At risk", 0, "#64748b"),
        ("Neutral", 50, "#16a34a"),
        ("Healthy", 75, "#64748b"),
    ]


def test_adding_a_model_with_a_taken_key_points_to_new_versions(ada_admin, draft):
    make_metric("usage")
    response = ada_admin.post(
        reverse("admin:scoring_scoringmodel_add"),
        {
            "key": "health",
            "name": "Another",
            "kind": "weighted",
            **{f"{p}-{k}": v for p in ("components", "bands") for k, v in _empty_formset()},
        },
    )
    assert response.status_code == 200
    assert "Create a new draft version" in str(response.context["adminform"].form.errors["key"])


def _empty_formset():
    return [("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0), ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 1000)]


# --- Active versions are read-only ---------------------------------------------------------


def test_an_active_model_is_shown_read_only_and_cannot_be_changed(ada_admin, draft):
    scoring_model_activate(model=draft)

    page = ada_admin.get(change_url(draft))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert 'name="name"' not in page.content.decode()
    assert 'name="components-0-weight"' not in page.content.decode()
    assert "its rules are read-only" in page.content.decode()

    data = form_data(draft, name="Renamed")
    data["components-0-weight"] = "10"
    response = ada_admin.post(change_url(draft), data)

    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.name == "Health"
    assert draft.components.get(metric__key="usage").weight == 60


# --- New version, activate -------------------------------------------------------------


def test_new_version_copies_the_active_model_into_a_draft(ada_admin):
    active = make_model("health", components=SCORECARD, bands=BANDS)

    response = ada_admin.post(reverse("admin:scoring_scoringmodel_new_version", args=[active.pk]))

    draft = ScoringModel.objects.get(key="health", version=2)
    assert response.status_code == 302
    assert response["Location"] == change_url(draft)
    assert draft.status == "draft"
    assert draft.based_on == active
    assert [(c.metric.key, c.weight) for c in draft.components.all()] == [
        ("usage", 60),
        ("nps", 40),
    ]
    assert [b.name for b in draft.bands.all()] == ["At risk", "Neutral", "Healthy"]
    page = ada_admin.get(change_url(draft))
    assert page.context["has_change_permission"]
    assert 'name="components-0-weight"' in page.content.decode()


def test_activate_retires_the_active_version(ada_admin):
    active = make_model("health", components=SCORECARD, bands=BANDS)
    draft = scoring_model_new_version(model=active)

    response = ada_admin.post(reverse("admin:scoring_scoringmodel_activate", args=[draft.pk]))

    assert response.status_code == 302
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, active.status) == ("active", "retired")
    assert messages_of(response) == [
        "Health v2 is active; Health v1 is retired. Scores change at the next recompute: "
        '<a href="/admin/scoring/scoringrun/">start one from Scoring runs</a>.'
    ]


def test_activating_a_draft_with_problems_says_what_they_are(ada_admin):
    draft = make_model(
        "health",
        components=[{"metric": "usage", "weight": 70}],
        bands=[("Low", 0)],
        activate=False,
    )

    response = ada_admin.post(reverse("admin:scoring_scoringmodel_activate", args=[draft.pk]))

    assert messages_of(response) == [
        "Cannot activate: Weights sum to 70 %; they must sum to 100 % (Usage 70)."
    ]
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_the_list_actions_create_versions_and_activate(ada_admin):
    active = make_model("health", components=SCORECARD, bands=BANDS)
    changelist = reverse("admin:scoring_scoringmodel_changelist")

    ada_admin.post(changelist, {"action": "new_version_action", "_selected_action": [active.pk]})
    draft = ScoringModel.objects.get(key="health", version=2)
    response = ada_admin.post(
        changelist, {"action": "activate_action", "_selected_action": [draft.pk, active.pk]}
    )

    assert ScoringModel.objects.get(key="health", status="active") == draft
    assert "Health v1 is active, not a draft." in messages_of(response)


def test_the_model_list_shows_versions_and_their_filters(ada_admin, django_assert_max_num_queries):
    make_model("health", components=SCORECARD, bands=BANDS, segment="smb")
    make_model("ent", components=SCORECARD[:1], bands=BANDS, activate=False, plan="Pro")

    with django_assert_max_num_queries(12):
        response = ada_admin.get(reverse("admin:scoring_scoringmodel_changelist"))

    rows = {m.key: m for m in response.context["cl"].result_list}
    assert rows["health"].component_total == 2
    assert "segment SMB" in response.content.decode()
    assert "plan Pro" in response.content.decode()


# --- Preview -------------------------------------------------------------------------------


@pytest.fixture
def scored_book(db):
    """The active scorecard v1 has scored four accounts; v2 is a draft that reads usage
    against a stricter range (0–100 → 40–90) and weighs it more."""
    v1 = make_model("health", components=SCORECARD, bands=BANDS)
    yesterday = timezone.now() - dt.timedelta(days=1)
    accounts = {}
    for name, usage, nps in [
        ("Avocado", 95, 50),  # 0.6*95 + 0.4*75 = 87   -> with v2: 100*.8 + 75*.2 = 95
        ("Beetroot", 70, 0),  # 42 + 20 = 62            -> 60*.8 + 50*.2 = 58
        ("Carrot", 45, 20),  # 27 + 24 = 51             -> 10*.8 + 60*.2 = 20
        ("Daikon", 20, -60),  # 12 + 8 = 20              -> 0*.8 + 20*.2 = 4
    ]:
        account = AccountFactory(name=name, external_id=name.lower())
        add_signal(account, "usage", usage, yesterday)
        add_signal(account, "nps", nps, yesterday)
        accounts[name] = account
    scoring_run_execute(run=scoring_run_create())
    v2 = scoring_model_new_version(model=v1)
    usage = v2.components.get(metric__key="usage")
    usage.rule, usage.params, usage.weight = "linear", {"worst": 40, "best": 90}, 80
    usage.save()
    v2.components.filter(metric__key="nps").update(weight=20)
    return v1, v2, accounts


def test_preview_shows_old_and_new_scores_and_the_band_moves(ada_admin, scored_book):
    _, v2, _ = scored_book
    history = HealthScore.objects.count()
    url = reverse("admin:scoring_scoringmodel_preview", args=[v2.pk])

    response = ada_admin.get(url, {"size": 200, "sample": "all"})

    assert response.status_code == 200
    page = response.content.decode()
    change = reverse("admin:scoring_scoringmodel_change", args=[v2.pk])
    assert "scoring-preview" in page and f'{change}">{v2}</a>\n  &rsaquo; Preview' in page
    assert reverse("admin:scoring_scoringmodel_activate", args=[v2.pk]) in page
    summary = response.context["summary"]
    assert response.context["errors"] == []
    assert summary.accounts == 4
    moves = {
        r.account_name: (r.old_score, r.new_score, r.from_label, r.to_label)
        for r in summary.biggest_moves
    }
    assert moves == {
        "Avocado": (pytest.approx(87), pytest.approx(95), "Healthy", "Healthy"),
        "Beetroot": (pytest.approx(62), pytest.approx(58), "Neutral", "Neutral"),
        "Carrot": (pytest.approx(51), pytest.approx(20), "Neutral", "At risk"),
        "Daikon": (pytest.approx(20), pytest.approx(4), "At risk", "At risk"),
    }
    # Biggest moves first: Carrot -31, Daikon -16, Avocado +8, Beetroot -4.
    assert [r.account_name for r in summary.biggest_moves] == [
        "Carrot",
        "Daikon",
        "Avocado",
        "Beetroot",
    ]
    assert summary.average_change == pytest.approx((8 - 4 - 31 - 16) / 4)
    assert summary.band_moves == 1
    assert [label for label, _ in summary.to_labels] == ["Healthy", "Neutral", "At risk"]
    assert [(row.label, row.counts) for row in summary.matrix] == [
        ("Healthy", [1, 0, 0]),
        ("Neutral", [0, 1, 1]),
        ("At risk", [0, 0, 1]),
    ]
    page = response.content.decode()
    assert 'id="band-matrix"' in page
    assert "-10.75" in page  # the average change
    assert "-31.0" in page  # Carrot's move

    # Nothing was written, and the preview is what the recompute then stores.
    assert HealthScore.objects.count() == history
    previewed = {
        r.account_id: (r.new_score, r.new_band, r.breakdown) for r in summary.biggest_moves
    }
    ada_admin.post(reverse("admin:scoring_scoringmodel_activate", args=[v2.pk]))
    run = scoring_run_execute(run=scoring_run_create())
    stored = {
        h.account_id: (h.score, h.band.name, h.breakdown)
        for h in HealthScore.objects.filter(run=run).select_related("band")
    }
    assert stored == previewed


def test_a_random_sample_takes_the_size_asked_for(ada_admin, scored_book):
    _, v2, _ = scored_book
    response = ada_admin.get(
        reverse("admin:scoring_scoringmodel_preview", args=[v2.pk]), {"size": 3, "sample": "random"}
    )
    assert response.context["summary"].accounts == 3
    assert response.context["available"] == 4


def test_preview_by_default_and_with_validation_errors(ada_admin, scored_book):
    _, v2, _ = scored_book
    v2.components.filter(metric__key="nps").update(weight=30)

    response = ada_admin.get(reverse("admin:scoring_scoringmodel_preview", args=[v2.pk]))

    assert response.context["errors"] == [
        "Weights sum to 110 %; they must sum to 100 % (Usage 80, Nps 30)."
    ]
    assert response.context["summary"].accounts == 4
    assert "This draft cannot be activated yet" in response.content.decode()


def test_preview_waits_for_parameters_that_make_sense(ada_admin, scored_book):
    _, v2, _ = scored_book
    v2.components.filter(metric__key="usage").update(params={"worst": 40})

    response = ada_admin.get(reverse("admin:scoring_scoringmodel_preview", args=[v2.pk]))

    assert response.context["blocked"] == "Fix the parameters of Usage to preview the model."
    assert "summary" not in response.context


@pytest.mark.parametrize(
    ("tool", "message"),
    [("preview", "only drafts are previewed"), ("whatif", "the what-if compares a draft")],
)
def test_only_drafts_are_previewed_or_compared(ada_admin, scored_book, tool, message):
    v1, _, _ = scored_book
    response = ada_admin.get(reverse(f"admin:scoring_scoringmodel_{tool}", args=[v1.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scoring_scoringmodel_change", args=[v1.pk])
    assert messages_of(response)[0].startswith(f"{v1} is active: {message}")


def test_preview_samples_the_accounts_the_draft_would_score(db):
    general = make_model("general", components=SCORECARD, bands=BANDS)
    make_model("smb", components=SCORECARD, bands=BANDS, segment="smb")
    smb = AccountFactory(segment="smb")
    enterprise = AccountFactory(segment="enterprise")
    AccountFactory(segment="enterprise", churned_at=dt.date(2020, 1, 1))
    now = timezone.now()

    # The general model's next version scores everything but SMB, which a more specific
    # model claims; the SMB model's next version scores SMB.
    assert list(preview_accounts(model=scoring_model_new_version(model=general), as_of=now)) == [
        enterprise
    ]
    smb_v2 = scoring_model_new_version(model=ScoringModel.objects.get(key="smb"))
    assert list(preview_accounts(model=smb_v2, as_of=now)) == [smb]


# --- Recompute from admin ------------------------------------------------------------------


def test_recompute_all_now_hands_the_run_to_the_workers(ada_admin, ada):
    make_model("health", components=SCORECARD, bands=BANDS)
    accounts = [AccountFactory() for _ in range(3)]
    add_signal(accounts[0], "usage", 80, timezone.now() - dt.timedelta(hours=1))
    changelist = reverse("admin:scoring_scoringrun_changelist")
    assert "Recompute all now" in ada_admin.get(changelist).content.decode()

    response = ada_admin.post(reverse("admin:scoring_scoringrun_recompute"), {"scope": "all"})

    run = ScoringRun.objects.get()
    assert response["Location"] == reverse("admin:scoring_scoringrun_change", args=[run.pk])
    assert (run.status, run.scope, run.trigger, run.requested_by) == (
        "pending",
        "all",
        "admin",
        ada,
    )
    assert messages_of(response) == [
        f"Run {run.pk} started: 3 accounts in 1 chunk. This page shows its progress."
    ]
    assert not run.chunks.filter(dispatched_at__isnull=True).exists()

    # What a worker does with the dispatched chunks (tests/scoring/test_recompute_runs.py
    # runs real workers); then the run page reports the outcome.
    scoring_run_execute(run=run)
    assert AccountHealth.objects.get(account=accounts[0]).score == 80
    detail = ada_admin.get(response["Location"])
    assert detail.status_code == 200
    assert "3 / 3" in detail.content.decode()


def test_recompute_one_account_or_one_segment(ada_admin, book):
    make_model("health", components=SCORECARD, bands=BANDS)
    url = reverse("admin:scoring_scoringrun_recompute")

    ada_admin.post(url, {"scope": "account", "external_id": "acme"})
    ada_admin.post(url, {"scope": "segment", "segment": "enterprise"})

    one, segment = ScoringRun.objects.order_by("id")
    assert (one.scope, one.account, one.accounts_total) == ("account", book["alice"], 1)
    assert (segment.scope, segment.segment, segment.accounts_total) == ("segment", "enterprise", 0)
    assert segment.status == "succeeded"  # nothing to score: done at once
    assert scoring_run_execute(run=one).accounts_scored == 1


def test_recompute_form_says_what_is_missing(ada_admin, book):
    url = reverse("admin:scoring_scoringrun_recompute")

    response = ada_admin.post(url, {"scope": "account", "external_id": "nobody"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Account external id: No account has external id “nobody”."
    ]
    response = ada_admin.post(url, {"scope": "segment"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Segment: Choose the segment to recompute."
    ]
    assert not ScoringRun.objects.exists()
    assert ada_admin.get(url).status_code == 405


def test_a_csm_cannot_start_a_recompute(client_as, alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    response = client_as(alice).post(
        reverse("admin:scoring_scoringrun_recompute"), {"scope": "all"}
    )
    assert response.status_code == 403
    assert not ScoringRun.objects.exists()


# --- History and configuration pages --------------------------------------------------------


def test_history_pages_show_scores_events_and_breakdowns(
    ada_admin, ada, book, django_assert_max_num_queries
):
    model = make_model("health", components=SCORECARD, bands=BANDS)
    Band.objects.filter(model=model, name="Healthy").update(color="#16a34a")
    account = book["alice"]
    add_signal(account, "usage", 90, timezone.now() - dt.timedelta(days=2), client_id="u-1")
    add_signal(account, "nps", 100, timezone.now() - dt.timedelta(days=2))
    recompute_now(account=account)
    add_signal(account, "usage", 10, timezone.now() - dt.timedelta(hours=1))
    recompute_now(account=account)
    CsmSentiment.objects.create(account=account, author=ada, value=4, note="Happy enough")
    health = HealthScore.objects.order_by("id").first()

    detail = ada_admin.get(reverse("admin:scoring_healthscore_change", args=[health.pk]))
    page = detail.content.decode()
    assert "<td>Usage</td><td><code>usage</code></td><td>60 %</td><td>90</td><td>90</td>" in page
    assert 'fill="#16a34a"' in page

    event = ScoreEvent.objects.get(kind="band_changed")
    events = ada_admin.get(reverse("admin:scoring_scoreevent_changelist"))
    assert event in events.context["cl"].result_list
    assert "Healthy" in events.content.decode()

    for name in ("accounthealth", "healthscore", "csmsentiment", "signal", "metric", "gradescale"):
        with django_assert_max_num_queries(15):
            assert ada_admin.get(reverse(f"admin:scoring_{name}_changelist")).status_code == 200

    found = ada_admin.get(reverse("admin:scoring_signal_changelist"), {"q": "u-1"})
    assert [s.client_id for s in found.context["cl"].result_list] == ["u-1"]
    found = ada_admin.get(reverse("admin:scoring_signal_changelist"), {"q": "acme"})
    assert len(found.context["cl"].result_list) == 3


def test_signals_and_history_cannot_be_edited(ada_admin, book):
    make_model("health", components=SCORECARD, bands=BANDS)
    signal = add_signal(book["alice"], "usage", 50, timezone.now() - dt.timedelta(days=1))
    recompute_now(account=book["alice"])

    assert ada_admin.get(reverse("admin:scoring_signal_add")).status_code == 403
    response = ada_admin.post(
        reverse("admin:scoring_signal_change", args=[signal.pk]),
        {"value": 1, "account": signal.account_id, "metric": signal.metric_id},
    )
    assert response.status_code == 403
    signal.refresh_from_db()
    assert signal.value == 50
    assert ada_admin.get(reverse("admin:scoring_scoringrun_add")).status_code == 403


def test_a_metric_used_by_an_active_model_keeps_its_roll_up(ada_admin, draft):
    assert ada_admin.get(reverse("admin:scoring_metric_add")).status_code == 200
    usage = draft.components.get(metric__key="usage").metric
    url = reverse("admin:scoring_metric_change", args=[usage.pk])
    scoring_model_activate(model=draft)
    page = ada_admin.get(url).content.decode()
    assert 'name="rollup"' in page
    assert "Health v1 (Active, Latest value)" in page

    response = ada_admin.post(
        url,
        {"key": "usage", "name": "Usage", "rollup": "sum", "window_days": 7},
        follow=True,
    )
    assert any("Health v1 keep rolling usage up as before" in m for m in messages_of(response))
    usage.refresh_from_db()
    assert (usage.rollup, usage.window_days) == ("sum", 7)
    component = draft.components.get(metric=usage)
    assert (component.rollup, component.window_days) == ("latest", 30)


def test_grades_take_a_colour(ada_admin):
    # The A–F scale is installed by a migration; here a finer grade is added to it.
    response = ada_admin.post(
        reverse("admin:scoring_gradescale_add"), {"letter": "A+", "lower": 97, "color": "green"}
    )
    assert "Give a colour as #rrggbb" in str(response.context["adminform"].form.errors["color"])
    response = ada_admin.post(
        reverse("admin:scoring_gradescale_add"), {"letter": "A+", "lower": 97, "color": "#16a34a"}
    )
    assert response.status_code == 302


def test_a_new_model_starts_as_draft_version_1(ada_admin):
    usage, nps = make_metric("usage"), make_metric("nps")
    add_url = reverse("admin:scoring_scoringmodel_add")
    assert ada_admin.get(add_url).status_code == 200
    data = {
        "key": "health",
        "name": "Health",
        "kind": "weighted",
        "segment": "smb",
        "components-TOTAL_FORMS": 2,
        "components-INITIAL_FORMS": 0,
        "bands-TOTAL_FORMS": 2,
        "bands-INITIAL_FORMS": 0,
    }
    for i, (metric, weight) in enumerate([(usage, 70), (nps, 40)]):
        data.update(
            {
                f"components-{i}-metric": metric.pk,
                f"components-{i}-position": i,
                f"components-{i}-weight": weight,
                f"components-{i}-rule": "passthrough",
                f"components-{i}-params": "{}",
                f"components-{i}-missing": "skip",
            }
        )
    for i, (name, lower) in enumerate([("Low", ""), ("High", 50)]):
        data.update(
            {
                f"bands-{i}-name": name,
                f"bands-{i}-lower": lower,
                f"bands-{i}-color": "#dc2626",
                f"bands-{i}-level": "at_risk" if name == "Low" else "healthy",
            }
        )

    response = ada_admin.post(add_url, data)
    assert response.context["inline_admin_formsets"][0].formset.non_form_errors() == [
        "Weights sum to 110 %; they must sum to 100 % (Usage 70, Nps 40)."
    ]

    data["components-1-weight"] = 30
    response = ada_admin.post(add_url, data)

    model = ScoringModel.objects.get(key="health")
    assert response.status_code == 302
    assert (model.version, model.status, model.segment) == (1, "draft", "smb")
    assert [(c.metric.key, c.weight) for c in model.components.all()] == [
        ("usage", 70),
        ("nps", 30),
    ]
    assert [(b.name, b.lower) for b in model.bands.all()] == [("Low", None), ("High", 50)]


def test_active_versions_cannot_be_deleted(ada_admin, draft):
    scoring_model_activate(model=draft)
    assert (
        ada_admin.post(reverse("admin:scoring_scoringmodel_delete", args=[draft.pk])).status_code
        == 403
    )
    response = ada_admin.post(
        reverse("admin:scoring_scoringmodel_changelist"),
        {"action": "delete_selected", "_selected_action": [draft.pk], "post": "yes"},
    )
    assert response.status_code == 403
    assert ScoringModel.objects.filter(pk=draft.pk).exists()


def test_a_failing_recompute_shows_the_runs_error(ada_admin, book, monkeypatch):
    make_model("health", components=SCORECARD, bands=BANDS)
    ada_admin.post(reverse("admin:scoring_scoringrun_recompute"), {"scope": "all"})
    run = ScoringRun.objects.get()

    def broken(*, chunk_id):
        raise RuntimeError("disk full")

    monkeypatch.setattr("scoring.services.recompute.scoring_chunk_process", broken)
    with pytest.raises(RuntimeError):
        scoring_run_execute(run=run)

    run.refresh_from_db()
    assert run.status == "failed"
    page = ada_admin.get(reverse("admin:scoring_scoringrun_change", args=[run.pk]))
    assert "chunk 0: RuntimeError: disk full" in page.content.decode()
