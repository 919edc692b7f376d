"""config.widgets.PlainSelect writes what Django's Select writes, byte for byte."""

from __future__ import annotations

import pytest
from django import forms
from django.utils.safestring import mark_safe

from config.widgets import PlainSelect

CHOICES = [
    ("", "Any owner"),
    ("1", "Ann <ann@example.com>"),
    (2, "Bob & Co"),
    ("x\"y'z", mark_safe("<b>safe</b>")),
    ("Group", [("g1", "One"), ("g2", "Two")]),
    (None, "None as a value"),
]


@pytest.mark.parametrize("value", [None, "", "1", 2, "g2", "x\"y'z", "missing"])
@pytest.mark.parametrize(
    "attrs", [None, {"id": "id_owner"}, {"id": "id_o", "disabled": True, "data-x": False}]
)
def test_plain_select_matches_django_select(value, attrs):
    expected = forms.Select(choices=CHOICES).render("owner", value, attrs=attrs)
    assert PlainSelect(choices=CHOICES).render("owner", value, attrs=attrs) == expected


def test_account_filter_form_renders_as_with_django_select(db):
    """The whole filter form, every select of it, reads the same with either widget."""
    from accounts.filters import AccountFilter
    from accounts.models import User

    User.objects.create_user("csm-a", first_name="Ann", role=User.Role.CSM)
    User.objects.create_user("csm-b", first_name="Bo <b>", role=User.Role.CSM)
    data = {"owner": str(User.objects.get(username="csm-a").pk), "sort": "-arr", "band": "Red"}
    ours = AccountFilter(data, owners=User.objects.all(), bands=["Red", "Green"])
    django_form = AccountFilter(data, owners=User.objects.all(), bands=["Red", "Green"]).form
    selects = [n for n, f in ours.form.fields.items() if isinstance(f.widget, PlainSelect)]
    assert len(selects) >= 8
    for name in selects:
        field = django_form.fields[name]
        field.widget = forms.Select(attrs=field.widget.attrs, choices=field.widget.choices)
        assert str(ours.form[name]) == str(django_form[name]), name
