"""The bell's pages: my notifications (newest first, unread ones marked), opening one
(marks it read and goes to its object), marking read one by one or all, and my
notification settings. Each action answers htmx with the piece it changed and the bell's
count out of band, and anything else with a redirect, so they work without JavaScript."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from notifications.forms import NotificationSettingsForm
from notifications.models import Notification, NotificationSettings
from notifications.selectors import notifications_for, unread_count
from notifications.services import (
    SETTINGS_FIELDS,
    notification_read,
    notification_settings_save,
    notifications_read_all,
)


def _read(request: AuthenticatedHttpRequest, pk: int) -> Notification:
    try:
        return notification_read(user=request.user, pk=pk, now=timezone.now())
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None


@login_required
def inbox(request: AuthenticatedHttpRequest) -> HttpResponse:
    before = request.GET.get("before")
    if before is not None and not before.isdigit():
        return HttpResponseBadRequest(
            f"Parameter 'before': {before!r} is not a notification id.\n",
            content_type="text/plain; charset=utf-8",
        )
    unread = request.GET.get("show") == "unread"
    page = notifications_for(
        user=request.user, before=int(before) if before else None, unread=unread
    )
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "unread_only": unread, "unread": unread_count(user=request.user)},
    )


@login_required
def open_notification(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Mark it read and go where it leads (one of our own pages)."""
    notification = _read(request, pk)
    url = notification.url
    if not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = reverse("notifications:inbox")
    return redirect(url)


def _answer(request: AuthenticatedHttpRequest, context: dict, template: str) -> HttpResponse:
    context["unread"] = unread_count(user=request.user)
    return render(request, template, context)


@require_POST
@login_required
def read(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    notification = _read(request, pk)
    if not request.htmx:
        return redirect("notifications:inbox")
    return _answer(request, {"item": notification, "oob": True}, "notifications/inbox.html#item")


@require_POST
@login_required
def read_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    count = notifications_read_all(user=request.user, now=timezone.now())
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications:inbox")


@login_required
def settings_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    current = NotificationSettings.objects.filter(
        user=request.user
    ).first() or NotificationSettings(user=request.user)
    form = NotificationSettingsForm(request.POST or None, instance=current)
    if not request.user.is_manager:  # a team to watch is a manager's
        del form.fields["scope"]
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS if name in form.fields}
        notification_settings_save(user=request.user, fields=fields)
        messages.success(request, "Notification settings saved.")
        return redirect("notifications:settings")
    return render(request, "notifications/settings.html", {"form": form})
