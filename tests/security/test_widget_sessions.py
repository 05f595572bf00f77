"""Widget sessions: a contact merge revokes them, and they expire when idle.

A visitor who types a real customer's e-mail gets a contact of their own (never matched by what they
type). When a supervisor merges that contact into the customer's, the visitor's session is revoked: its
open socket is told `auth_failed` (reason "revoked") and closed with 4401, its token is refused on HTTP and
socket, and it never sees the customer's messages. A session unused for IM_WIDGET_SESSION_IDLE_DAYS is
refused the same way with reason "expired"; the widget starts a new session on either.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from crm.models import Contact, ContactMerge
from imsubsystem import auth, services
from imsubsystem.models import WidgetSession
from tests.imsubsystem.conftest import receive_until, send, widget_communicator
from tests.security.conftest import mentions

pytestmark = pytest.mark.django_db(transaction=True)


def _widget_get(token: str):
    return Client().get("/api/v1/widget/messages", HTTP_AUTHORIZATION=f"Bearer {token}")


async def _authenticated(token: str):
    ws = widget_communicator(origin=None)
    assert (await ws.connect())[0]
    await send(ws, {"type": "auth", "token": token, "after_seq": 0})
    return ws


async def _refused(token: str) -> dict:
    ws = widget_communicator(origin=None)
    await ws.connect()
    await send(ws, {"type": "auth", "token": token})
    error = await ws.receive_json_from(timeout=5)
    assert (await ws.receive_output(timeout=5))["code"] == 4401
    return error


@pytest.fixture
def customer_and_visitor(teams):
    """A real customer chatting with team A's agent, and a visitor who typed the customer's e-mail."""
    inbox = teams["sales_inbox"]
    customer_token, customer_session = auth.widget_session_create(inbox=inbox, name="Carla", email="carla@example.org")
    first, _ = services.customer_message_send(
        inbox_id=inbox.pk, contact_id=customer_session.contact_id, text="My card number ends 4242", client_id="c1"
    )
    services.conversation_assign(conversation_id=first["conversation_id"], agent_id=teams["ag_a"].pk)
    visitor_token, visitor_session = auth.widget_session_create(inbox=inbox, name="Mallory", email="carla@example.org")
    assert visitor_session.contact_id != customer_session.contact_id  # never matched by a typed e-mail
    Contact.objects.filter(pk=visitor_session.contact_id).update(created_at=timezone.now() + timedelta(seconds=1))
    return {
        **teams,
        "inbox": inbox,
        "customer_token": customer_token,
        "customer_contact": customer_session.contact_id,
        "visitor_token": visitor_token,
        "visitor_contact": visitor_session.contact_id,
        "conversation_id": first["conversation_id"],
    }


async def test_a_merge_revokes_the_merged_away_session_on_socket_and_http(customer_and_visitor):
    world = customer_and_visitor
    visitor_ws = await _authenticated(world["visitor_token"])
    ready = await receive_until(visitor_ws, "ready")
    assert ready["conversation_id"] is None

    def merge_in_the_admin():
        # What a supervisor does: select both contacts and merge them into the oldest (the customer).
        client = Client()
        client.force_login(world["sup_a"])
        response = client.post(
            "/admin/crm/contact/",
            {
                "action": "merge_into_oldest",
                "_selected_action": [world["customer_contact"], world["visitor_contact"]],
            },
        )
        assert response.status_code == 302
        return ContactMerge.objects.get(source_id=world["visitor_contact"])

    record = await database_sync_to_async(merge_in_the_admin)()
    assert record.target_id == world["customer_contact"]
    assert record.moved["widget_sessions_revoked"] == 2

    # The open socket is told and closed.
    seen: list[dict] = []
    error = await receive_until(visitor_ws, "error", collect=seen)
    assert (error["code"], error["reason"]) == ("auth_failed", "revoked")
    assert (await visitor_ws.receive_output(timeout=5))["code"] == 4401

    # The customer's agent answers; the token the visitor holds is refused everywhere and shows nothing.
    await database_sync_to_async(services.message_send)(
        conversation_id=world["conversation_id"],
        sender_kind="agent",
        sender_user_id=world["ag_a"].pk,
        text="Your refund is on its way",
        client_id="a1",
    )
    response = await database_sync_to_async(_widget_get)(world["visitor_token"])
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "auth_failed",
        "detail": response.json()["error"]["detail"],
        "reason": "revoked",
    }
    refused = await _refused(world["visitor_token"])
    assert (refused["code"], refused["reason"]) == ("auth_failed", "revoked")
    assert not [f for f in seen if mentions(f, world["conversation_id"])]

    # The customer's own widget starts a new session too (a merge joined two histories; no session
    # carries over), which starts empty: history never comes from an identity claim.
    assert (await database_sync_to_async(_widget_get)(world["customer_token"])).status_code == 401
    new_token, _ = await database_sync_to_async(auth.widget_session_create)(
        inbox=world["inbox"], email="carla@example.org"
    )
    fresh = (await database_sync_to_async(_widget_get)(new_token)).json()
    assert fresh["conversation_id"] is None and fresh["messages"] == []


def test_a_merge_the_other_way_round_grants_no_history_either(customer_and_visitor):
    """The customer merged into the visitor's contact: the visitor's session is the target's, and it is
    revoked too, so the customer's conversation never shows in the visitor's widget."""
    from crm.services import contact_merge

    world = customer_and_visitor
    contact_merge(
        source=Contact.objects.get(pk=world["customer_contact"]),
        target=Contact.objects.get(pk=world["visitor_contact"]),
        merged_by=world["sup_a"],
    )
    response = _widget_get(world["visitor_token"])
    assert response.status_code == 401 and response.json()["error"]["reason"] == "revoked"
    assert not WidgetSession.objects.filter(revoked_at__isnull=True).exists()


class TestIdleExpiry:
    def _idle(self, token: str, days: float) -> None:
        WidgetSession.objects.filter(token_hash=auth.token_hash(token)).update(
            last_seen_at=timezone.now() - timedelta(days=days)
        )

    def test_the_default_is_thirty_days(self, settings):
        assert settings.IM_WIDGET_SESSION_IDLE_DAYS == 30

    def test_an_idle_session_is_refused_on_http_with_reason_expired(self, teams):
        token, _ = auth.widget_session_create(inbox=teams["sales_inbox"])
        self._idle(token, 31)
        response = _widget_get(token)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "auth_failed"
        assert response.json()["error"]["reason"] == "expired"
        # Refused uploads and sends too, and nothing is stored.
        post = Client().post(
            "/api/v1/widget/messages",
            '{"client_id": "x", "text": "hi"}',
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert post.status_code == 401
        from imsubsystem.models import Message

        assert not Message.objects.filter(client_id="x").exists()

    async def test_an_idle_session_is_refused_on_the_socket(self, teams):
        token, _ = await database_sync_to_async(auth.widget_session_create)(inbox=teams["sales_inbox"])
        await database_sync_to_async(self._idle)(token, 31)
        error = await _refused(token)
        assert (error["code"], error["reason"]) == ("auth_failed", "expired")

    def test_use_within_the_limit_keeps_a_session_alive(self, teams, settings):
        settings.IM_WIDGET_SESSION_IDLE_DAYS = 2
        token, _ = auth.widget_session_create(inbox=teams["sales_inbox"])
        self._idle(token, 1.5)
        assert _widget_get(token).status_code == 200
        session = WidgetSession.objects.get(token_hash=auth.token_hash(token))
        assert timezone.now() - session.last_seen_at < timedelta(minutes=1)
        self._idle(token, 2.5)
        assert _widget_get(token).json()["error"]["reason"] == "expired"

    def test_an_unknown_token_says_unknown(self, db):
        response = _widget_get("x" * 43)
        assert response.status_code == 401 and response.json()["error"]["reason"] == "unknown"


async def test_a_replay_checks_the_session_again(customer_and_visitor):
    """Even if the revocation's frame never reached the socket (the fast path lost it), the next replay
    the socket asks for finds the session revoked and closes instead of reading history."""
    world = customer_and_visitor
    ws = await _authenticated(world["customer_token"])
    await receive_until(ws, "ready")
    assert (await receive_until(ws, "message.new"))["message"]["seq"] == 1  # the replay after auth
    await database_sync_to_async(
        WidgetSession.objects.filter(token_hash=auth.token_hash(world["customer_token"])).update
    )(revoked_at=timezone.now())
    await send(ws, {"type": "resume", "after_seq": 0})
    seen: list[dict] = []
    error = await receive_until(ws, "error", collect=seen)
    assert (error["code"], error["reason"]) == ("auth_failed", "revoked")
    assert (await ws.receive_output(timeout=5))["code"] == 4401
    assert not [f for f in seen if f["type"] == "message.new"]
