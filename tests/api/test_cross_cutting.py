"""What every API view does without asking for it (api/views/base.py): the rate limit per token, the
Idempotency-Key of every POST; and the caller's own tokens (`/tokens`), the POST endpoint they are tested on."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from api import idempotency
from api.models import ApiToken, IdempotencyKey
from api.tokens import token_for_key
from tests.api.conftest import BearerClient

BASE = "/api/rest/v1"
pytestmark = pytest.mark.django_db


# --- Rate limits -------------------------------------------------------------------------------------


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(settings, make_api_client, agent):
    settings.API_RATE_LIMIT = "3/min"
    api = make_api_client(agent)
    answers = [api.get(f"{BASE}/me") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0]["X-RateLimit-Limit"] == "3"
    refused = api.get(f"{BASE}/me")
    assert refused.status_code == 429
    body = refused.json()
    assert body["error"]["code"] == "rate_limited" and set(body["error"]) == {"code", "detail"}
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_each_token_has_its_own_budget_and_the_session_its_user_s(settings, make_api_client, agent):
    settings.API_RATE_LIMIT = "2/min"
    first, second = make_api_client(agent), make_api_client(agent)
    for _ in range(2):
        assert first.get(f"{BASE}/me").status_code == 200
    assert first.get(f"{BASE}/me").status_code == 429
    assert second.get(f"{BASE}/me").status_code == 200
    session = Client()
    session.force_login(agent)
    assert [session.get(f"{BASE}/me").status_code for _ in range(3)] == [200, 200, 429]


def test_a_view_cannot_leave_the_rate_limit_out(settings, make_api_client, agent):
    # Listing a view's throttle_classes empty does not remove the API's own limit.
    from api.views.inboxes import InboxViewSet

    settings.API_RATE_LIMIT = "1/min"
    InboxViewSet.throttle_classes = []
    try:
        api = make_api_client(agent)
        assert api.get(f"{BASE}/inboxes").status_code == 200
        assert api.get(f"{BASE}/inboxes").status_code == 429
    finally:
        del InboxViewSet.throttle_classes


# --- The caller's tokens -----------------------------------------------------------------------------


def test_a_write_token_makes_a_token_whose_key_is_shown_once_and_works(make_api_client, agent):
    api = make_api_client(agent, scope="write")
    made = api.post_json(f"{BASE}/tokens", {"name": "orders", "scope": "read"})
    assert made.status_code == 201
    body = made.json()
    assert body["name"] == "orders" and body["scope"] == "read" and body["key"].startswith("sbk_")
    assert made["Location"] == f"{BASE}/tokens/{body['id']}"
    new = BearerClient(body["key"])
    assert new.get(f"{BASE}/me").json()["token"]["id"] == body["id"]
    listed = api.get(f"{BASE}/tokens").json()["results"]
    assert {t["name"] for t in listed} == {"test", "orders"}
    assert all("key" not in t and "key_hash" not in t for t in listed)
    assert "key" not in api.get(f"{BASE}/tokens/{body['id']}").json()


def test_a_read_token_lists_but_may_not_make_or_revoke(make_api_client, agent):
    reader = make_api_client(agent, scope="read")
    assert reader.get(f"{BASE}/tokens").status_code == 200
    assert reader.post_json(f"{BASE}/tokens", {"name": "x"}).status_code == 403
    assert reader.delete(f"{BASE}/tokens/{reader.token.pk}").status_code == 403
    assert ApiToken.objects.filter(user=agent).count() == 1


def test_revoking_a_token_stops_its_key(make_api_client, agent):
    api = make_api_client(agent, scope="write")
    other = make_api_client(agent, scope="read", name="other")
    response = api.delete(f"{BASE}/tokens/{other.token.pk}")
    assert response.status_code == 204
    assert other.get(f"{BASE}/me").json()["error"]["reason"] == "revoked"
    assert api.get(f"{BASE}/tokens/{other.token.pk}").json()["revoked_at"] is not None


def test_nobody_sees_or_revokes_another_user_s_tokens(make_api_client, agent, supervisor):
    theirs = make_api_client(supervisor)
    mine = make_api_client(agent)
    assert mine.get(f"{BASE}/tokens/{theirs.token.pk}").status_code == 404
    assert mine.delete(f"{BASE}/tokens/{theirs.token.pk}").status_code == 404
    assert [t["id"] for t in mine.get(f"{BASE}/tokens").json()["results"]] == [mine.token.pk]
    assert token_for_key(theirs.key)[0] is not None


def test_a_token_without_a_name_is_refused_with_the_field_s_error(make_api_client, agent):
    response = make_api_client(agent).post_json(f"{BASE}/tokens", {"name": "  ", "scope": "admin"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["errors"]) == {"name", "scope"}


# --- Idempotency-Key ---------------------------------------------------------------------------------


def _made(api, body, key, **extra):
    return api.post_json(f"{BASE}/tokens", body, HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_a_retried_post_returns_the_first_answer_without_doing_the_work_again(make_api_client, agent):
    api = make_api_client(agent)
    first = _made(api, {"name": "orders", "scope": "read"}, "k-1")
    again = _made(api, {"scope": "read", "name": "orders"}, "k-1")  # the same body, another key order
    assert first.status_code == again.status_code == 201
    # The same answer, but the key is shown once: it is not kept for the replay.
    assert again.json() == {**first.json(), "key": None}
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert ApiToken.objects.filter(user=agent, name="orders").count() == 1


def test_without_a_key_each_post_does_the_work(make_api_client, agent):
    api = make_api_client(agent)
    api.post_json(f"{BASE}/tokens", {"name": "orders"})
    api.post_json(f"{BASE}/tokens", {"name": "orders"})
    assert ApiToken.objects.filter(user=agent, name="orders").count() == 2


def test_the_same_key_with_another_body_is_refused(make_api_client, agent):
    api = make_api_client(agent)
    _made(api, {"name": "orders"}, "k-2")
    refused = _made(api, {"name": "billing"}, "k-2")
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "idempotency_key_reused"
    assert not ApiToken.objects.filter(name="billing").exists()


def test_keys_are_the_caller_s_own(make_api_client, agent, supervisor):
    mine, theirs = make_api_client(agent), make_api_client(supervisor)
    _made(mine, {"name": "orders"}, "shared")
    answer = _made(theirs, {"name": "orders"}, "shared")
    assert answer.status_code == 201 and not answer.has_header("Idempotent-Replayed")
    assert ApiToken.objects.filter(name="orders").count() == 2


def test_a_refusal_is_kept_too_and_a_key_is_checked(make_api_client, agent):
    api = make_api_client(agent)
    first = _made(api, {"name": ""}, "k-3")
    assert first.status_code == 400
    assert _made(api, {"name": ""}, "k-3")["Idempotent-Replayed"] == "true"
    bad = _made(api, {"name": "x"}, "with space")
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["error"]["detail"]
    assert not ApiToken.objects.filter(name="x").exists()


def test_a_read_token_s_refused_post_keeps_nothing(make_api_client, agent):
    reader = make_api_client(agent, scope="read")
    assert _made(reader, {"name": "x"}, "k-4").status_code == 403
    assert not IdempotencyKey.objects.exists()


def test_a_key_still_running_answers_409_and_a_key_older_than_a_day_is_forgotten(make_api_client, agent):
    api = make_api_client(agent)
    assert _made(api, {"name": "a"}, "k-5").status_code == 201
    # As if that first call were still running: its row has no answer yet.
    IdempotencyKey.objects.update(status=None, body="")
    running = _made(api, {"name": "a"}, "k-5")
    assert running.status_code == 409
    assert running.json()["error"]["code"] == "idempotency_key_in_progress" and running["Retry-After"] == "1"
    # Unfinished for longer than a call can run: its process stopped during the call; the retry runs.
    ApiToken.objects.filter(name="a").delete()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    assert _made(api, {"name": "a"}, "k-5").status_code == 201
    assert _made(api, {"name": "a"}, "k-5")["Idempotent-Replayed"] == "true"
    # A day later the key is forgotten: the same key does the work again, and the purge deletes old rows.
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = _made(api, {"name": "a"}, "k-5")
    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert ApiToken.objects.filter(name="a").count() == 2
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency.purge_expired() == 1
    assert not IdempotencyKey.objects.exists()


def test_a_server_failure_is_not_kept_so_the_retry_runs_again(make_api_client, agent, monkeypatch):
    from api.views import tokens as token_views

    api = make_api_client(agent)
    real = token_views.token_create

    def failing(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(token_views, "token_create", failing)
    client = BearerClient(api.key, raise_request_exception=False)
    assert client.post_json(f"{BASE}/tokens", {"name": "b"}, HTTP_IDEMPOTENCY_KEY="k-6").status_code == 500
    assert not ApiToken.objects.filter(name="b").exists()
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(token_views, "token_create", real)
    assert _made(api, {"name": "b"}, "k-6").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_do_the_work_once(make_api_client, agent):
    api = make_api_client(agent)
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def call():
        try:
            barrier.wait()
            client = BearerClient(api.key)
            statuses.append(client.post_json(f"{BASE}/tokens", {"name": "c"}, HTTP_IDEMPOTENCY_KEY="k-7").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ApiToken.objects.filter(name="c").count() == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert _made(api, {"name": "c"}, "k-7")["Idempotent-Replayed"] == "true"


def test_a_session_post_takes_a_key_too(agent):
    client = Client()
    client.force_login(agent)
    answers = [
        client.post(f"{BASE}/tokens", {"name": "s"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-8")
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["id"] == answers[1].json()["id"] and answers[1].json()["key"] is None
    row = IdempotencyKey.objects.get()
    assert row.caller == f"user:{agent.pk}" and answers[0].json()["key"] not in row.body


# --- Found by fuzzing the running server (tests/api/test_schemathesis.py) -----------------------------


@pytest.mark.parametrize("path", ["/tokens/0.5", "/nothing-here", "/me/", "/inboxes/1/extra"])
def test_a_path_that_is_no_endpoint_is_not_found_in_the_one_error_shape(make_api_client, agent, path):
    for client in (make_api_client(agent), Client()):
        response = client.get(f"{BASE}{path}")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("cursor", ["%08%C2%8E", "bz14", "cD1hYmM="])  # junk, o=x, p=abc
def test_a_cursor_the_list_did_not_give_is_refused_as_invalid(make_api_client, agent, cursor):
    response = make_api_client(agent).get(f"{BASE}/tokens?cursor={cursor}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "cursor" in error["errors"]


def test_a_cursor_the_list_gave_still_pages(make_api_client, agent):
    api = make_api_client(agent)
    for name in ("a", "b", "c"):
        api.post_json(f"{BASE}/tokens", {"name": name})
    first = api.get(f"{BASE}/tokens?limit=2").json()
    second = api.get(first["next"]).json()
    assert [t["name"] for t in first["results"] + second["results"]] == ["c", "b", "a", "test"]


def test_a_rate_limit_met_inside_the_call_is_not_kept(make_api_client, agent, monkeypatch):
    # A 429 says "retry after N seconds": the retry must run again, not get the 429 back.
    from api.views import tokens as token_views
    from core.errors import DomainError

    api = make_api_client(agent)
    real = token_views.token_create

    def slow_down(**kwargs):
        raise DomainError("rate_limited", retry_after_s=2)

    monkeypatch.setattr(token_views, "token_create", slow_down)
    refused = _made(api, {"name": "r"}, "k-9")
    assert refused.status_code == 429 and refused["Retry-After"] == "2"
    monkeypatch.setattr(token_views, "token_create", real)
    assert _made(api, {"name": "r"}, "k-9").status_code == 201
