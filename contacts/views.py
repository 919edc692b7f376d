"""The contacts of an account on its page: the card (loaded after the page, or as a page
of its own without JavaScript), adding a contact, editing one in place, making one
primary, marking one as having left; and its touches (a card of its own, loaded alike),
logging and deleting one. Who may see the account sees its contacts and touches; only
those whose book holds it change them (work given to someone opens the page, not the
book). Out of scope is 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account
from accounts.selectors import account_get_visible
from config.errors import DomainError
from contacts.forms import ContactForm, TouchForm
from contacts.models import Contact, Touch
from contacts.selectors import account_contacts, account_touches_named
from contacts.services import (
    ContactInvalid,
    TouchInvalid,
    contact_mark_left,
    contact_save,
    touch_delete,
    touch_log,
)
from playbooks.forms import NoteForm
from playbooks.selectors import account_get_for_work, account_timeline


def _card(
    request: AuthenticatedHttpRequest,
    account: Account,
    *,
    in_scope: bool,
    form: ContactForm | None = None,
    notice: str = "",
    editing: Contact | None = None,
    edit_form: ContactForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "account": account,
        "contacts": list(account_contacts(account=account)),
        "in_scope": in_scope,
        "contact_form": form or ContactForm(),
        "contacts_notice": notice,
        "editing": editing,
        "edit_form": edit_form,
    }
    fragment = request.htmx and not request.htmx.history_restore_request
    template = "contacts/card.html#card" if fragment else "contacts/card.html"
    return render(request, template, context, status=status)


@login_required
def account_contacts_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the card; POST: a new contact on it (in the person's book only)."""
    account, in_scope = account_get_for_work(user=request.user, pk=pk)
    if request.method != "POST":
        return _card(request, account, in_scope=in_scope)
    if not in_scope:
        raise Http404("No such account.")
    form = ContactForm(request.POST)
    notice = ""
    if form.is_valid():
        try:
            contact = contact_save(account=account, fields=form.cleaned_data, now=timezone.now())
        except ContactInvalid as exc:
            _form_errors(form, exc)
        else:
            notice = f"Added {contact.name}."
            form = ContactForm()
    if not request.htmx:
        if notice:
            messages.success(request, notice)
        else:
            for field, problems in form.errors.items():
                for problem in problems:
                    messages.error(request, f"Contact not added — {field}: {problem}")
        return redirect(account)
    return _card(request, account, in_scope=True, form=form, notice=notice)


def _own_contact(request: AuthenticatedHttpRequest, pk: int) -> Contact:
    """A contact on an account in the person's book; Http404 otherwise."""
    contact = Contact.objects.select_related("account").filter(pk=pk).first()
    if contact is None:
        raise Http404("No such contact.")
    account_get_visible(user=request.user, pk=contact.account_id)
    return contact


def _form_errors(form: forms.Form, exc: DomainError) -> None:
    """``exc``'s problems beside their fields of ``form`` (the form's own, if none)."""
    for field, problems in (exc.fields or {}).items():
        for problem in problems:
            form.add_error(field if field in form.fields else None, problem)


def _after(request: AuthenticatedHttpRequest, contact: Contact, notice: str) -> HttpResponse:
    if not request.htmx:
        messages.success(request, notice)
        return redirect(contact.account)
    return _card(request, contact.account, in_scope=True, notice=notice)


@require_POST
@login_required
def make_primary(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contact = _own_contact(request, pk)
    contact = contact_save(
        account=contact.account, fields={"is_primary": True}, contact=contact, now=timezone.now()
    )
    return _after(request, contact, f"{contact.name} is the primary contact.")


@require_POST
@login_required
def mark_left(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contact = _own_contact(request, pk)
    now = timezone.now()
    contact = contact_mark_left(contact=contact, on=timezone.localdate(now), now=now)
    return _after(request, contact, f"{contact.name} has left {contact.account.name}.")


@login_required
def edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the card with this contact's row as a form (in place, or as a page without
    JavaScript); POST: the change through ``contact_save``, the card again with what was
    wrong said beside its field, nothing changed."""
    contact = _own_contact(request, pk)
    account = contact.account
    if request.method != "POST":
        form = ContactForm(
            initial={
                "name": contact.name,
                "email": contact.email,
                "title": contact.title,
                "role": contact.role_id,
                "is_primary": contact.is_primary,
            },
            prefix=f"contact-{contact.pk}",
        )
        return _card(request, account, in_scope=True, editing=contact, edit_form=form)
    form = ContactForm(request.POST, prefix=f"contact-{contact.pk}")
    if form.is_valid():
        try:
            contact = contact_save(
                account=account, fields=form.cleaned_data, contact=contact, now=timezone.now()
            )
        except ContactInvalid as exc:
            _form_errors(form, exc)
        else:
            return _after(request, contact, f"Saved {contact.name}.")
    if not request.htmx:
        return _card(request, account, in_scope=True, editing=contact, edit_form=form, status=400)
    return _card(request, account, in_scope=True, editing=contact, edit_form=form)


# --- Touches -------------------------------------------------------------------------------

# How many touches the account page's card lists (the timeline has them all).
TOUCHES_SHOWN = 10


def _touches_card(
    request: AuthenticatedHttpRequest,
    account: Account,
    *,
    in_scope: bool,
    form: TouchForm | None = None,
    notice: str = "",
    changed: bool = False,
) -> HttpResponse:
    """The touches card; after a change, for htmx, with the timeline and the header's
    "last touch" swapped in too (out of band), so the page agrees with itself."""
    now = timezone.now()
    context = {
        "account": account,
        "touches": account_touches_named(account=account, limit=TOUCHES_SHOWN),
        "in_scope": in_scope,
        "touch_form": form or TouchForm(account=account, now=now),
        "touches_notice": notice,
        "now": now,
    }
    fragment = request.htmx and not request.htmx.history_restore_request
    if fragment and changed:
        context |= {
            "timeline": account_timeline(account=account),
            "note_form": NoteForm(),
            "oob": True,
        }
        return render(request, "contacts/touches.html#changed", context)
    template = "contacts/touches.html#card" if fragment else "contacts/touches.html"
    return render(request, template, context)


@login_required
def account_touches_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the card; POST: a touch logged on the account (in the person's book only)."""
    account, in_scope = account_get_for_work(user=request.user, pk=pk)
    if request.method != "POST":
        return _touches_card(request, account, in_scope=in_scope)
    if not in_scope:
        raise Http404("No such account.")
    now = timezone.now()
    form = TouchForm(request.POST, account=account, now=now)
    touch = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            touch = touch_log(
                account=account,
                kind=data["kind"],
                at=data["at"],
                note=data["note"],
                contact_ids=[contact.pk for contact in data["contacts"]],
                by=request.user,
                now=now,
            )
        except TouchInvalid as exc:
            _form_errors(form, exc)
    notice = f"{touch.get_kind_display()} logged." if touch is not None else ""
    if not request.htmx:
        if notice:
            messages.success(request, notice)
        for field, problems in form.errors.items():
            for problem in problems:
                messages.error(request, f"Touch not logged — {field}: {problem}")
        return redirect(account)
    if touch is None:
        return _touches_card(request, account, in_scope=True, form=form)
    account.refresh_from_db(fields=["last_touch_at"])  # the write path moved it
    return _touches_card(request, account, in_scope=True, notice=notice, changed=True)


@require_POST
@login_required
def touch_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A touch deleted from the card (on an account in the person's book)."""
    touch = Touch.objects.select_related("account").filter(pk=pk).first()
    if touch is None:
        raise Http404("No such touch.")
    account = account_get_visible(user=request.user, pk=touch.account_id)
    touch_delete(touch=touch)
    account.refresh_from_db(fields=["last_touch_at"])  # the write path moved it
    notice = "Touch deleted."
    if not request.htmx:
        messages.success(request, notice)
        return redirect(account)
    return _touches_card(request, account, in_scope=True, notice=notice, changed=True)
