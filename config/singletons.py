"""Settings kept as one row that an admin edits (the retention policy, the weights of
"work on next"): the row is pk 1, read with ``current()`` (its defaults until it is
first saved), and its admin page goes straight to that row, with no adding or deleting."""

from __future__ import annotations

from typing import Self

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse


class SingletonModel(models.Model):
    """Abstract: a table of one row. Each subclass also checks ``pk = 1`` in the
    database, with a constraint of its own name."""

    class Meta:
        abstract = True

    @classmethod
    def current(cls) -> Self:
        """The row in force (the defaults until an admin saves it)."""
        return cls._default_manager.filter(pk=1).first() or cls(pk=1)


class SingletonAdmin(admin.ModelAdmin):
    """The admin of a ``SingletonModel``: its list is its one row's page."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_object(self, request: HttpRequest, object_id: str, from_field=None):
        return self.model.current()

    def changelist_view(self, request: HttpRequest, extra_context=None):
        meta = self.model._meta
        return HttpResponseRedirect(
            reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[1])
        )
