"""What the scoring admin pages share: the stylesheet, a band's colour swatch, how a score
reads, the guard of the tool pages that only drafts have, and the base of the read-only
history pages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html

from scoring.formatting import format_delta, format_score
from scoring.models import Band, ScoringModel

ADMIN_CSS = {"all": ["css/admin-scoring.css"]}


def draft_or_back(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: int, *, only_drafts: str
) -> ScoringModel | HttpResponse:
    """The draft a tool page (preview, what-if) works on; for any other version, back to
    its change page with the warning "<version> is <status>: <only_drafts>"."""
    model = get_object_or_404(ScoringModel, pk=object_id)
    if not model_admin.has_view_permission(request, model):
        raise PermissionDenied
    if model.status == ScoringModel.Status.DRAFT:
        return model
    model_admin.message_user(
        request,
        f"{model} is {model.get_status_display().lower()}: {only_drafts}",
        messages.WARNING,
    )
    return HttpResponseRedirect(reverse("admin:scoring_scoringmodel_change", args=[model.pk]))


def swatch(color: str | None, label: str | None) -> str:
    """A band or grade with its colour. SVG rather than a style attribute: the content
    security policy forbids inline styles."""
    if not label:
        return "—"
    if not color:
        return label
    return format_html(
        '<span class="band-label"><svg width="10" height="10" aria-hidden="true">'
        '<rect width="10" height="10" rx="2" fill="{}"/></svg> {}</span>',
        color,
        label,
    )


def band_html(band: Band | None) -> str:
    return swatch(band.color, band.name) if band else "—"


def score_text(value: float | None) -> str:
    """A score as it reads everywhere (``scoring.formatting``), or a dash."""
    return format_score(value) or "—"


def delta_text(value: float | None) -> str:
    """A change of score as it reads everywhere, or a dash."""
    return format_delta(value) or "—"


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and results: shown, never edited here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
