"""What the playbooks admin pages share: URL fields that assume https, the base of every
page that writes through ``playbooks.services``, and (from scoring) the one of records
shown read-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse

from playbooks.services import PlaybookError
from scoring.admin.common import ReadOnlyAdmin

__all__ = ["URL_FIELDS", "ReadOnlyAdmin", "ThroughServices"]

# URLs typed without a scheme are taken as https (Django 6's default, asked for now).
URL_FIELDS: Mapping[type[models.Field[Any, Any]], Mapping[str, Any]] = {
    models.URLField: {"assume_scheme": "https"}
}


class ThroughServices(admin.ModelAdmin):
    """A page whose saves and deletes call the services, as the API and the pages do.

    A service's refusal (``PlaybookError``) is shown as an error message on the page it
    came from; the admin's transaction around the save or the delete is rolled back, so
    nothing of it is kept. There is no bulk delete: each object goes through its own
    delete, and its service's refusal. The delete page asks the service first (a delete
    rolled back), so a refusal comes before the confirmation, not after it.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except PlaybookError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            if request.method == "GET":
                self._delete_tried(request, object_id)
            return super().delete_view(request, object_id, extra_context)
        except PlaybookError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def _delete_tried(self, request, object_id) -> None:
        """The service's delete of the object, undone: raises its refusal, if any."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_delete_permission(request, obj):
            return  # the admin's own answer (not found, forbidden) follows
        with transaction.atomic():
            self.delete_model(request, obj)
            transaction.set_rollback(True)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
