"""factory_boy factories for the domain, shared by every test folder."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from accounts.models import Account, Team, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = User.Role.CSM
    password = factory.django.Password("pw-for-tests-1")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"ext-{n:05d}")
    name = factory.Sequence(lambda n: f"Company {n:05d}")
    domain = factory.LazyAttribute(lambda a: f"{a.external_id}.example.com")
    segment = Account.Segment.SMB
    plan = "Growth"
    lifecycle_stage = Account.Stage.MATURE
    arr = Decimal("12000")
    contract_start = dt.date(2025, 1, 1)
    renewal_date = dt.date(2027, 1, 1)
