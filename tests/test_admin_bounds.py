"""Every admin page of a large table stays bounded at a million rows: its form picks a
row of a large table by id or by search, never from a select of every row; its filters
offer fixed or typed-in choices, never a list read from the table; it has no date
hierarchy (a DISTINCT over the dates); and its default order is served by an index.

Checked on the admin classes themselves, so that a new field, inline or filter fails
here before it reaches a big installation (``accounts/admin_filters.py`` says why)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.filters import (
    BooleanFieldListFilter,
    ChoicesFieldListFilter,
    DateFieldListFilter,
    EmptyFieldListFilter,
)
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import (
    AutocompleteMixin,
    ForeignKeyRawIdWidget,
    ManyToManyRawIdWidget,
    RelatedFieldWidgetWrapper,
)
from django.db import models
from django.forms import ModelChoiceField
from django.test import RequestFactory

from accounts.admin_filters import InputFilter
from accounts.models import Account, User
from playbooks.models import Delivery, Note, PlaybookRun, PlaybookStepRun, Task
from scoring.models import (
    AccountHealth,
    AnalysisJob,
    CsmSentiment,
    HealthScore,
    ScoreEvent,
    ScoringRun,
    ScoringRunChunk,
    Signal,
)

# Tables that grow with the book (per account, per day, per run, per event) and users,
# who number thousands at a large installation.
BIG = {
    Account,
    User,
    Signal,
    CsmSentiment,
    HealthScore,
    AccountHealth,
    ScoreEvent,
    ScoringRun,
    ScoringRunChunk,
    AnalysisJob,
    PlaybookRun,
    PlaybookStepRun,
    Task,
    Note,
    Delivery,
}
OURS = {"accounts", "scoring", "playbooks"}
BOUNDED_FILTERS = (
    BooleanFieldListFilter,
    ChoicesFieldListFilter,
    DateFieldListFilter,
    EmptyFieldListFilter,
)
PICKERS = (ForeignKeyRawIdWidget, ManyToManyRawIdWidget, AutocompleteMixin)

ADMINS = sorted(
    (
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in OURS
    ),
    key=lambda pair: pair[0]._meta.label,
)


def _request(db):
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("bounds", "bounds@example.com", "pw")
    return request


def _forms(model_admin, request):
    """The admin's form classes, its inlines' too, for adding and for changing."""
    if model_admin.has_add_permission(request) or model_admin.has_change_permission(request):
        yield type(model_admin).__name__, model_admin.get_form(request)
    for inline in model_admin.get_inline_instances(request):
        if inline.has_add_permission(request, None) or inline.has_change_permission(request):
            yield type(inline).__name__, inline.get_formset(request).form


def _plain_selects(form) -> list[str]:
    found = []
    for name, field in form.base_fields.items():
        if not isinstance(field, ModelChoiceField) or field.queryset.model not in BIG:
            continue
        widget = field.widget
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget = widget.widget
        if not isinstance(widget, PICKERS):
            found.append(f"{name} ({type(widget).__name__} of {field.queryset.model.__name__})")
    return found


BIG_ADMINS = [(model, model_admin) for model, model_admin in ADMINS if model in BIG]


def _ids(pairs) -> list[str]:
    return [model._meta.label for model, _ in pairs]


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=_ids(ADMINS))
def test_no_form_offers_a_select_of_every_row_of_a_large_table(model, model_admin, db):
    request = _request(db)
    found = {name: _plain_selects(form) for name, form in _forms(model_admin, request)}
    found = {name: fields for name, fields in found.items() if fields}
    assert not found, f"use raw_id_fields or autocomplete_fields: {found}"


def _unbounded(model, spec) -> str:
    """Why a list_filter entry reads the table to offer its choices ("" if it does not)."""
    if isinstance(spec, type) and issubclass(spec, admin.SimpleListFilter):
        if issubclass(spec, InputFilter):
            return ""
        return f"{spec.__name__}: a SimpleListFilter whose lookups may query (use InputFilter)"
    path, filter_class = spec if isinstance(spec, tuple) else (spec, None)
    field = get_fields_from_path(model, path)[-1]
    if filter_class is not None:
        return "" if issubclass(filter_class, BOUNDED_FILTERS) else f"{path}: {filter_class}"
    if field.is_relation:
        target = field.related_model
        return f"{path}: lists every {target.__name__}" if target in BIG else ""
    if field.choices or isinstance(field, models.BooleanField | models.DateField):
        return ""  # DateTimeField is a DateField
    return f"{path}: SELECT DISTINCT over the column"


@pytest.mark.parametrize(("model", "model_admin"), ADMINS, ids=_ids(ADMINS))
def test_no_filter_reads_a_large_table_to_offer_its_choices(model, model_admin, db):
    """Of any table, no filter lists the rows of a large one; of a large table, none
    reads its own column (a DISTINCT) and there is no date hierarchy."""
    request = _request(db)
    problems = [
        problem
        for spec in model_admin.get_list_filter(request)
        if (problem := _unbounded(model, spec))
        and (model in BIG or "lists every" in problem or "SimpleListFilter" in problem)
    ]
    if model in BIG and model_admin.date_hierarchy:
        problems.append(f"date_hierarchy {model_admin.date_hierarchy}: DISTINCT over the dates")
    assert not problems, problems


def _indexed_prefixes(model) -> list[tuple[str, ...]]:
    """Each index of the table as its leading columns ('-' for descending)."""
    meta = model._meta
    found: list[tuple[str, ...]] = [(meta.pk.column,)]
    for field in meta.concrete_fields:
        if field.db_index or field.unique or field.is_relation:
            found.append((field.column,))
    for index in meta.indexes:
        found.append(tuple(_column(model, name) for name in index.fields))
    for constraint in meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
            found.append(tuple(_column(model, name) for name in constraint.fields))
    for fields in meta.unique_together:
        found.append(tuple(_column(model, name) for name in fields))
    return found


def _column(model, name: str) -> str:
    descending = name.startswith("-")
    column = model._meta.get_field(name.lstrip("-")).column
    return f"-{column}" if descending else column


def _served(model, ordering: list[str]) -> bool:
    wanted = []
    for item in ordering:
        if not isinstance(item, str):
            return False  # an expression: no index is known to serve it
        name = item.lstrip("-")
        column = model._meta.pk.column if name == "pk" else model._meta.get_field(name).column
        wanted.append(("-" if item.startswith("-") else "") + column)
    first = wanted[0]
    for index in _indexed_prefixes(model):
        lead = index[0]
        # A B-tree is read either way: an index on (a) serves a and -a alike; on
        # (-a, b) it serves -a and a too, the second column reversed with it.
        if lead.lstrip("-") == first.lstrip("-"):
            return True
    return False


@pytest.mark.parametrize(("model", "model_admin"), BIG_ADMINS, ids=_ids(BIG_ADMINS))
def test_the_default_order_of_a_large_table_is_served_by_an_index(model, model_admin, db):
    request = _request(db)
    ordering = list(model_admin.get_ordering(request) or model._meta.ordering or ["-pk"])
    assert _served(model, ordering), (
        f"{model.__name__} ordered by {ordering}: no index leads with it"
    )


def test_the_checks_catch_what_they_are_for(db):
    """Each check fails on the thing it is meant to catch."""
    assert _unbounded(Account, "owner") == "owner: lists every User"
    assert _unbounded(Account, "plan") == "plan: SELECT DISTINCT over the column"
    assert _unbounded(Account, "segment") == ""
    assert _unbounded(Account, ("churned_at", EmptyFieldListFilter)) == ""
    assert not _served(ScoringRun, ["-created_at"])
    assert _served(ScoringRun, ["-id"])

    class Careless(admin.ModelAdmin):
        fields = ["account", "metric", "value", "timestamp"]

    careless = Careless(Signal, admin.site)
    assert _plain_selects(careless.get_form(_request(db))) == ["account (Select of Account)"]


def test_a_typed_in_filter_narrows_the_list_and_keeps_the_others(book, ada, client_as, db):
    alices = book["alice"]
    page = client_as(ada).get(
        "/admin/accounts/account/", {"owner": " alice ", "segment__exact": alices.segment}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert alices.name in html
    assert book["bob"].name not in html and book["charlie"].name not in html
    assert 'name="owner" value=" alice "' in html
    assert f'type="hidden" name="segment__exact" value="{alices.segment}"' in html
    unknown = client_as(ada).get("/admin/accounts/account/", {"owner": "nobody"})
    assert alices.name not in unknown.content.decode()
