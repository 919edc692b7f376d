"""API test helpers: ``api_as`` gives a client holding a fresh token.

api_as("accounts:read")                 # an integration token: every account
api_as("accounts:write", user=alice)    # a token acting for Alice: her book only
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import SCOPES, api_token_create


def client_with(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api_as(db):
    def make(*scopes: str, user: User | None = None) -> APIClient:
        token, raw = api_token_create(name="Test token", scopes=scopes or SCOPES, user=user)
        client = client_with(raw)
        client.token = token
        client.raw_token = raw
        return client

    return make
