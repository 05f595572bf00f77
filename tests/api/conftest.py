"""The integrator API's fixtures: a client that calls with a bearer key, and keys of each scope."""

from __future__ import annotations

import pytest
from django.test import Client

from api.models import ApiToken
from api.tokens import token_create


class BearerClient(Client):
    """A test client that sends `Authorization: Bearer <key>` and JSON bodies."""

    def __init__(self, key: str, **kwargs):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {key}", **kwargs)

    def post_json(self, path, data=None, **extra):
        return self.post(path, data or {}, content_type="application/json", **extra)

    def patch_json(self, path, data=None, **extra):
        return self.patch(path, data or {}, content_type="application/json", **extra)


@pytest.fixture
def make_api_client():
    def make(user, scope: str = ApiToken.WRITE, name: str = "test") -> BearerClient:
        token, key = token_create(user=user, name=name, scope=scope)
        client = BearerClient(key)
        client.token, client.key = token, key
        return client

    return make


@pytest.fixture
def agent_api(make_api_client, agent):
    return make_api_client(agent)


@pytest.fixture
def supervisor_api(make_api_client, supervisor):
    return make_api_client(supervisor)


@pytest.fixture
def admin_api(make_api_client, admin_user):
    return make_api_client(admin_user)
