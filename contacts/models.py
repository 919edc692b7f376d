"""Contacts: the people at a customer, each with a role from an admin-kept list."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Account


class ContactRole(models.Model):
    """What a contact is to the account (champion, decision maker, user, billing, …):
    an admin-kept list, in ``position`` order. ``key`` is what the API and imports
    name it by."""

    key = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80, unique=True)
    position = models.PositiveSmallIntegerField(default=100)
    description = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person at an account. The email is unique within the account (in any letter
    case); at most one contact of an account is its primary one; a contact who left
    the customer is kept, marked left, for the record."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LEFT = "left", "Left"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254)
    title = models.CharField(max_length=200, blank=True)
    role = models.ForeignKey(
        ContactRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    is_primary = models.BooleanField(default=False, help_text="The account's main contact.")
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.ACTIVE)
    left_at = models.DateField(null=True, blank=True, help_text="When they left the customer.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["account", "-is_primary", "name", "id"]
        indexes = [models.Index(fields=["account", "name"], name="contact_account_name")]
        constraints = [
            models.UniqueConstraint(Lower("email"), "account", name="contact_email_once"),
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_primary=True), name="contact_one_primary"
            ),
            models.CheckConstraint(
                condition=Q(status="active", left_at__isnull=True) | Q(status="left"),
                name="contact_left_has_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Touch(models.Model):
    """A call, email, meeting or QBR with an account, logged by whoever had it: when it
    happened (back-dated as need be, never ahead of now), the account's contacts who took
    part and a note. Each is also a signal of the built-in touch metrics
    (``contacts.services.touch_log``)."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"
        QBR = "qbr", "QBR"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="touches")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField(help_text="When it happened.")
    contacts = models.ManyToManyField(Contact, blank=True, related_name="touches")
    note = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "touches"
        indexes = [
            # An account's touches newest first, and its latest one (the first row).
            models.Index("account", F("at").desc(), F("id").desc(), name="touch_account_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.at:%Y-%m-%d %H:%M}"
