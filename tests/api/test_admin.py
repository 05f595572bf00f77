"""API tokens in Django's admin: listed without their hashes, revoked in bulk, made with the key shown once."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from api.models import ApiToken
from api.tokens import token_create, token_for_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_list_shows_each_token_but_never_its_hash(admin_client_, agent):
    token, _ = token_create(user=agent, name="orders", scope="write")
    page = admin_client_.get("/admin/api/apitoken/").content.decode()
    assert "orders" in page and f"sbk_{token.prefix}_" in page and "agent-a" in page
    assert token.key_hash not in page
    change = admin_client_.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    assert token.key_hash not in change and "key_hash" not in change


def test_making_a_token_in_admin_shows_its_key_once(admin_client_, agent):
    response = admin_client_.post("/admin/api/apitoken/add/", {"user": agent.pk, "name": "crm", "scope": "read"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    key = re.search(r'id="new-token-key"[^>]*value="(sbk_[^"]+)"', response.content.decode()).group(1)
    token, _ = token_for_key(key)
    assert token.user == agent and token.scope == "read"
    assert key not in admin_client_.get("/admin/api/apitoken/").content.decode()
    assert key not in str(admin_client_.cookies)


def test_the_revoke_action_stops_the_keys(admin_client_, agent):
    first, first_key = token_create(user=agent, name="a")
    second, second_key = token_create(user=agent, name="b")
    response = admin_client_.post(
        "/admin/api/apitoken/", {"action": "revoke", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "2 token(s) revoked" in response.content.decode()
    assert token_for_key(first_key)[1] == token_for_key(second_key)[1] == "revoked"
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0
