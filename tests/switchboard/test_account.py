"""The account page's API tokens: listed, made (the key shown on that answer only), revoked with CSRF."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from api.models import ApiToken
from api.tokens import token_create, token_for_key
from tests.factories.crm import UserFactory

pytestmark = pytest.mark.django_db


def _logged_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_the_header_links_to_the_account_page(agent):
    page = _logged_in(agent).get("/account/")
    assert page.status_code == 200
    assert 'href="/account/"' in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]


def test_the_account_page_needs_a_login():
    response = Client().get("/account/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_making_a_token_shows_its_key_once(agent):
    client = _logged_in(agent)
    made = client.post("/account/tokens", {"name": "orders", "scope": "write"})
    assert made.status_code == 200 and "no-store" in made["Cache-Control"]
    key = re.search(r'id="new-token-key"[^>]*value="(sbk_[^"]+)"', made.content.decode()).group(1)
    token, _ = token_for_key(key)
    assert token.user == agent and token.name == "orders" and token.scope == "write"
    again = client.get("/account/").content.decode()
    assert key not in again and f"sbk_{token.prefix}_…" in again and "orders" in again
    assert key not in str(client.cookies) and key not in str(dict(client.session))


def test_a_token_without_a_name_is_refused_and_nothing_is_made(agent):
    response = _logged_in(agent).post("/account/tokens", {"name": " ", "scope": "read"})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_user_whose_role_cannot_use_the_api_makes_no_token():
    user = UserFactory(username="crm-only")
    user.groups.clear()
    client = _logged_in(user)
    assert "Your role cannot use the API." in client.get("/account/").content.decode()
    client.post("/account/tokens", {"name": "x", "scope": "read"})
    assert not ApiToken.objects.exists()


def test_revoking_needs_csrf_and_stops_the_key(agent):
    token, key = token_create(user=agent, name="orders")
    strict = _logged_in(agent, enforce_csrf_checks=True)
    assert strict.post(f"/account/tokens/{token.pk}/revoke").status_code == 403
    assert token_for_key(key)[0] is not None
    response = _logged_in(agent).post(f"/account/tokens/{token.pk}/revoke")
    assert response.status_code == 302
    assert token_for_key(key) == (None, "revoked")


def test_nobody_revokes_another_user_s_token(agent, supervisor):
    token, key = token_create(user=supervisor, name="theirs")
    assert _logged_in(agent).post(f"/account/tokens/{token.pk}/revoke").status_code == 404
    assert token_for_key(key)[0] is not None
    assert "theirs" not in _logged_in(agent).get("/account/").content.decode()
