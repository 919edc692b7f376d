"""API tokens: issued once and stored hashed, refused with 401 when they cannot be used,
revoked from admin, created from the command line."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken
from accounts.tokens import (
    LAST_USED_PRECISION,
    TokenRejected,
    api_token_check,
    api_token_create,
    api_token_revoke,
)
from tests.api.conftest import client_with

LIST_URL = "/api/v1/accounts/"


def test_a_token_is_stored_as_a_hash_and_shown_once(db):
    token, raw = api_token_create(name="Salesforce sync", scopes=["accounts:write"])

    assert raw.startswith(f"vit_{token.prefix}_")
    assert len(raw) > 50
    assert token.secret_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored = ApiToken.objects.get()
    assert raw not in {stored.prefix, stored.secret_hash, stored.name}
    assert raw.split("_", 2)[2] not in str(ApiToken.objects.values().get())
    assert api_token_check(raw=raw) == token


def test_scopes_are_checked_and_kept_in_canonical_order(db):
    token, _ = api_token_create(name="t", scopes=["scores:read", "accounts:read", "scores:read"])
    assert token.scopes == ["accounts:read", "scores:read"]
    with pytest.raises(ValidationError, match="Unknown scope"):
        api_token_create(name="t", scopes=["accounts:admin"])
    with pytest.raises(ValidationError, match="at least one scope"):
        api_token_create(name="t", scopes=[])
    with pytest.raises(ValidationError, match="name"):
        api_token_create(name="  ", scopes=["accounts:read"])


def test_last_use_is_recorded_at_most_once_a_minute(db, django_assert_num_queries):
    token, raw = api_token_create(name="t", scopes=["accounts:read"])
    start = timezone.now()

    with django_assert_num_queries(2):  # find the token, record the first use
        api_token_check(raw=raw, now=start)
    with django_assert_num_queries(1):  # a minute has not passed: no write
        api_token_check(raw=raw, now=start + dt.timedelta(seconds=59))
    token.refresh_from_db()
    assert token.last_used_at == start

    later = start + LAST_USED_PRECISION + dt.timedelta(seconds=1)
    api_token_check(raw=raw, now=later)
    token.refresh_from_db()
    assert token.last_used_at == later


def test_revoking_is_recorded_once(db):
    token, raw = api_token_create(name="t", scopes=["accounts:read"])
    assert api_token_revoke(token=token) is True
    first = token.revoked_at
    assert api_token_revoke(token=token) is False
    token.refresh_from_db()
    assert token.revoked_at == first
    with pytest.raises(TokenRejected) as rejected:
        api_token_check(raw=raw)
    assert rejected.value.code == "token_revoked"


# --- 401 -------------------------------------------------------------------------------


def _assert_401(response, code: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_no_token_is_401_saying_how_to_send_one(client, db):
    response = client.get(LIST_URL)
    _assert_401(response, "not_authenticated")
    assert "Authorization: Bearer" in response.json()["error"]["message"]


def test_another_scheme_is_401(client, db):
    _assert_401(client.get(LIST_URL, HTTP_AUTHORIZATION="Basic YWxpY2U6cHc="), "not_authenticated")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",  # no token at all
        "Bearer two parts",
        "Bearer not-a-vitals-token",
        "Bearer vit_nosuchpx_c2VjcmV0",
    ],
)
def test_a_malformed_or_unknown_token_is_401_invalid(client, db, header):
    _assert_401(client.get(LIST_URL, HTTP_AUTHORIZATION=header), "token_invalid")


def test_the_right_prefix_with_the_wrong_secret_is_401_invalid(db):
    token, raw = api_token_create(name="t", scopes=["accounts:read"])
    forged = f"vit_{token.prefix}_{'x' * 43}"
    _assert_401(client_with(forged).get(LIST_URL), "token_invalid")
    assert client_with(raw).get(LIST_URL).status_code == 200


def test_an_expired_token_is_401_expired(db):
    _, raw = api_token_create(
        name="t", scopes=["accounts:read"], expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    _assert_401(client_with(raw).get(LIST_URL), "token_expired")


def test_a_token_that_has_not_expired_yet_works(db):
    _, raw = api_token_create(
        name="t", scopes=["accounts:read"], expires_at=timezone.now() + dt.timedelta(days=1)
    )
    assert client_with(raw).get(LIST_URL).status_code == 200


def test_a_revoked_token_is_401_revoked(db):
    token, raw = api_token_create(name="t", scopes=["accounts:read"])
    api_token_revoke(token=token)
    _assert_401(client_with(raw).get(LIST_URL), "token_revoked")


def test_the_token_of_a_deactivated_user_is_401(alice):
    _, raw = api_token_create(name="t", scopes=["accounts:read"], user=alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    _assert_401(client_with(raw).get(LIST_URL), "token_user_inactive")


def test_deleting_the_user_deletes_their_tokens(alice):
    """Never an orphan token: without a user, a token would reach every account."""
    api_token_create(name="t", scopes=["accounts:read"], user=alice)
    alice.delete()
    assert not ApiToken.objects.exists()


# --- manage.py create_api_token ------------------------------------------------------


def test_the_command_prints_a_working_token_on_its_last_line(alice):
    out = io.StringIO()
    call_command(
        "create_api_token",
        "CRM sync",
        "--scopes",
        "accounts:read",
        "accounts:write",
        "--user",
        "alice",
        "--expires-in-days",
        "30",
        stdout=out,
    )
    raw = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert raw.startswith(f"vit_{token.prefix}_")
    assert token.name == "CRM sync"
    assert token.user == alice
    assert token.scopes == ["accounts:read", "accounts:write"]
    assert token.expires_at - timezone.now() > dt.timedelta(days=29)
    assert client_with(raw).get(LIST_URL).status_code == 200


def test_the_command_accepts_comma_separated_scopes(db):
    out = io.StringIO()
    call_command("create_api_token", "t", "--scopes", "accounts:read,scores:read", stdout=out)
    assert ApiToken.objects.get().scopes == ["accounts:read", "scores:read"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "accounts:read", "acounts:write"], "Unknown scope(s): acounts:write"),
        (["--scopes", "accounts:read", "--user", "nobody"], "no user with username 'nobody'"),
        (["--scopes", "accounts:read", "--expires-in-days", "0"], "must be 1 or more"),
    ],
)
def test_the_command_refuses_bad_arguments_clearly(db, args, message):
    with pytest.raises(CommandError) as error:
        call_command("create_api_token", "t", *args, stdout=io.StringIO())
    assert message in str(error.value)
    assert not ApiToken.objects.exists()


# --- admin ----------------------------------------------------------------------------


def test_ops_create_a_token_in_admin_and_see_it_once(ada, client_as):
    client = client_as(ada)
    response = client.post(
        reverse("admin:accounts_apitoken_add"),
        {"name": "Zendesk", "scopes": ["signals:write", "accounts:read"], "expires_at_0": ""},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.scopes == ["accounts:read", "signals:write"]
    shown = re.findall(rf"vit_{token.prefix}_[A-Za-z0-9_-]+", response.content.decode())
    assert len(shown) == 1
    raw = shown[0]
    assert client_with(raw).get(LIST_URL).status_code == 200

    listing = client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    assert f"vit_{token.prefix}_" in listing
    assert raw not in listing
    assert (
        raw
        not in client.get(
            reverse("admin:accounts_apitoken_change", args=[token.pk])
        ).content.decode()
    )


def test_ops_revoke_tokens_from_the_admin_list(ada, client_as):
    token, raw = api_token_create(name="Old sync", scopes=["accounts:read"])
    response = client_as(ada).post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    _assert_401(client_with(raw).get(LIST_URL), "token_revoked")


def test_admin_refuses_a_token_without_scopes(ada, client_as):
    response = client_as(ada).post(reverse("admin:accounts_apitoken_add"), {"name": "x"})
    assert response.status_code == 200  # the form again, with its error
    assert not ApiToken.objects.exists()
