"""What scoring produced: the history of health scores, the latest health per account
and the score events playbooks act on. Shown, never edited."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from accounts.pagination import BookPaginator
from scoring.admin.common import ADMIN_CSS, ReadOnlyAdmin, band_html, delta_text, score_text
from scoring.models import AccountHealth, HealthScore, ScoreEvent, ScoringModel
from scoring.selectors import component_labels, delta_summary


@admin.register(HealthScore)
class HealthScoreAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "model",
        "score_display",
        "band_display",
        "completeness_display",
        "computed_at",
    ]
    list_select_related = ["account", "model", "band"]
    list_filter = ["model", ("computed_at", admin.DateFieldListFilter)]
    search_fields = ["account__external_id", "account__name"]
    show_full_result_count = False
    paginator = BookPaginator
    ordering = ["-id"]
    fields = [
        "account",
        "model",
        "run",
        "score_display",
        "band_display",
        "completeness_display",
        "computed_at",
        "breakdown_table",
    ]

    class Media:
        css = ADMIN_CSS

    @admin.display(description="Score", ordering="score")
    def score_display(self, health: HealthScore) -> str:
        return score_text(health.score)

    @admin.display(description="Band")
    def band_display(self, health: HealthScore) -> str:
        return band_html(health.band)

    @admin.display(description="Completeness", ordering="completeness")
    def completeness_display(self, health: HealthScore) -> str:
        return f"{health.completeness:.0%}"

    @admin.display(description="Breakdown")
    def breakdown_table(self, health: HealthScore) -> str:
        components = list(
            health.model.components.select_related("metric").order_by("position", "id")
        )
        weighted = health.model.kind == ScoringModel.Kind.WEIGHTED
        header = "Weight" if weighted else ""
        rows = []
        for component, (raw, score) in zip(components, health.breakdown, strict=False):
            rows.append(
                (
                    component.display_label,
                    component.metric.key,
                    f"{float(component.weight):g} %" if weighted else "",
                    "missing" if raw is None else f"{raw:g}",
                    "—" if score is None else f"{score:g}",
                )
            )
        return format_html(
            '<table class="scoring-breakdown"><thead><tr><th>Component</th><th>Metric</th>'
            "<th>{}</th><th>Raw value</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            header,
            "Score" if weighted else "Points",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                rows,
            ),
        )


@admin.register(AccountHealth)
class AccountHealthAdmin(ReadOnlyAdmin):
    list_display = [
        "account",
        "score_display",
        "band_display",
        "model",
        "completeness_display",
        "trend",
        "computed_at",
    ]
    list_select_related = ["account", "band", "model"]
    list_filter = ["model", "band"]
    search_fields = ["account__external_id", "account__name"]
    show_full_result_count = False
    paginator = BookPaginator
    ordering = ["score"]  # the weakest accounts first, along an index

    class Media:
        css = ADMIN_CSS

    @admin.display(description="Score", ordering="score")
    def score_display(self, health: AccountHealth) -> str:
        return score_text(health.score)

    @admin.display(description="Band")
    def band_display(self, health: AccountHealth) -> str:
        return band_html(health.band)

    @admin.display(description="Completeness", ordering="completeness")
    def completeness_display(self, health: AccountHealth) -> str:
        return f"{health.completeness:.0%}"

    @admin.display(description="30-day change", ordering="trend_30d")
    def trend(self, health: AccountHealth) -> str:
        return delta_text(health.trend_30d)


@admin.register(ScoreEvent)
class ScoreEventAdmin(ReadOnlyAdmin):
    list_display = [
        "kind",
        "account",
        "band_move",
        "score_before_display",
        "score_after_display",
        "change",
        "what_moved",
        "created_at",
        "claimed_at",
    ]
    list_select_related = ["account", "from_band", "to_band", "health_score__model"]
    list_filter = [
        "kind",
        ("claimed_at", admin.EmptyFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["account__external_id", "account__name"]
    ordering = ["-id"]  # newest first, along the primary key
    show_full_result_count = False
    paginator = BookPaginator

    class Media:
        css = ADMIN_CSS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._labels: dict[int, list[str]] = {}

    def changelist_view(self, request, extra_context=None):
        self._labels = {}  # one page's worth: read each version's labels once per page
        return super().changelist_view(request, extra_context)

    @admin.display(description="Band")
    def band_move(self, event: ScoreEvent) -> str:
        return format_html(
            '<span class="band-label">{} → {}</span>',
            band_html(event.from_band),
            band_html(event.to_band),
        )

    @admin.display(description="Score before", ordering="score_before")
    def score_before_display(self, event: ScoreEvent) -> str:
        return score_text(event.score_before)

    @admin.display(description="Score after", ordering="score_after")
    def score_after_display(self, event: ScoreEvent) -> str:
        return score_text(event.score_after)

    @admin.display(description="Change")
    def change(self, event: ScoreEvent) -> str:
        return delta_text(event.delta)

    @admin.display(description="What moved it")
    def what_moved(self, event: ScoreEvent) -> str:
        model_id = event.health_score.model_id
        if model_id not in self._labels:
            self._labels[model_id] = component_labels(model_id=model_id)
        return delta_summary(health_score=event.health_score, labels=self._labels[model_id]) or "—"
