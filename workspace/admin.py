"""The weights of "work on next": one row, edited here, saved through
``workspace.services.priority_weights_save``."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from config.singletons import SingletonAdmin
from workspace.models import PriorityWeights
from workspace.services import priority_weights_save


@admin.register(PriorityWeights)
class PriorityWeightsAdmin(SingletonAdmin):
    fieldsets = [
        ("Risk level", {"fields": ["critical", "at_risk", "neutral", "unscored"]}),
        ("Size and renewal", {"fields": ["arr", "renewal", "renewal_horizon_days"]}),
        ("Work and change", {"fields": ["overdue", "drop", "untouched"]}),
    ]

    def save_model(self, request: HttpRequest, obj: PriorityWeights, form, change) -> None:
        priority_weights_save(weights=obj)
