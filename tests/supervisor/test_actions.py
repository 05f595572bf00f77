"""Supervisor actions from the page: agent status, transfer, internal note; each limited to the team."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.test import Client

from imsubsystem import services as switch
from imsubsystem.models import Conversation, Message
from routing.models import AgentProfile, AssignmentEvent, Offer, WorkItem
from supervisor import services
from supervisor.services import SupervisorError
from tests.factories import ContactFactory
from tests.realtime.support import recording_layer


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def waiting_conversation(inbox) -> Conversation:
    conversation_id = switch.conversation_for_customer(inbox_id=inbox.pk, contact_id=ContactFactory().pk)
    return Conversation.objects.get(pk=conversation_id)


def test_status_change_of_own_agent(teams):
    response = post(client_for(teams["sup_a"]), f"/supervisor/api/agents/{teams['ag_a'].pk}/status", {"status": "away"})
    assert response.status_code == 200
    assert AgentProfile.objects.get(user=teams["ag_a"]).status == "away"


def test_agent_set_available_without_a_console_counts_as_disconnected_after_the_grace(teams, settings):
    """Presence follows the console: a supervisor can choose an agent's status, but without a console
    of theirs open routing offers them nothing once the grace has passed (with one, nothing changes)."""
    from datetime import timedelta

    from django.utils import timezone

    from routing import services as routing

    settings.ROUTING_CONSOLE_GRACE_S = 30
    routing.agent_console_open(agent_id=teams["ag_b"].pk, console="ag-b-tab")
    sup_admin = client_for(teams["sup_a"])
    response = post(sup_admin, f"/supervisor/api/agents/{teams['ag_a'].pk}/status", {"status": "available"})
    assert response.status_code == 200
    assert routing.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=20)) == []
    assert routing.agent_consoles_sweep(now=timezone.now() + timedelta(seconds=31)) == [teams["ag_a"].pk]
    profile = AgentProfile.objects.get(user=teams["ag_a"])
    assert (profile.status, profile.connected) == ("available", False)
    assert AgentProfile.objects.get(user=teams["ag_b"]).connected is True
    snapshot = sup_admin.get("/supervisor/api/snapshot").json()
    assert [a["state"] for a in snapshot["agents"]] == ["disconnected"]


def test_status_change_of_another_teams_agent_is_refused(teams):
    response = post(client_for(teams["sup_a"]), f"/supervisor/api/agents/{teams['ag_b'].pk}/status", {"status": "away"})
    assert response.status_code == 404
    assert AgentProfile.objects.get(user=teams["ag_b"]).status == "available"


def test_bad_status_is_refused(teams):
    response = post(
        client_for(teams["sup_a"]), f"/supervisor/api/agents/{teams['ag_a'].pk}/status", {"status": "lunch"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_whisper_is_a_private_message_from_the_supervisor(teams):
    conversation = waiting_conversation(teams["sales_inbox"])
    response = post(
        client_for(teams["sup_a"]),
        f"/supervisor/api/conversations/{conversation.pk}/notes",
        {"text": "Offer the <b>refund</b>", "client_id": "n-1"},
    )
    assert response.status_code == 201
    note = Message.objects.get(conversation=conversation, client_id="n-1")
    assert note.private and note.sender_user_id == teams["sup_a"].pk and note.text == "Offer the <b>refund</b>"
    conversation.refresh_from_db()
    assert conversation.first_agent_reply_at is None  # a note is not an answer to the customer
    # The same client_id again is the same note.
    post(
        client_for(teams["sup_a"]),
        f"/supervisor/api/conversations/{conversation.pk}/notes",
        {"text": "Offer the <b>refund</b>", "client_id": "n-1"},
    )
    assert Message.objects.filter(conversation=conversation, private=True, client_id="n-1").count() == 1


def test_whisper_into_another_teams_conversation_is_refused(teams):
    conversation = waiting_conversation(teams["support_inbox"])
    response = post(
        client_for(teams["sup_a"]), f"/supervisor/api/conversations/{conversation.pk}/notes", {"text": "hi"}
    )
    assert response.status_code == 404
    assert not Message.objects.filter(conversation=conversation, private=True).exists()


def test_empty_whisper_is_refused(teams):
    conversation = waiting_conversation(teams["sales_inbox"])
    with pytest.raises(SupervisorError) as caught:
        services.whisper_send(by_user=teams["sup_a"], conversation_id=conversation.pk, text="  ")
    assert caught.value.code == "empty"


def routing_and_switch_state(conversation: Conversation) -> dict:
    """What a refused transfer must leave as it was: the conversation, its messages, routing's rows."""
    return {
        "conversation": Conversation.objects.filter(pk=conversation.pk)
        .values("status", "queue_id", "assignee_id", "last_seq")
        .get(),
        "messages": list(Message.objects.filter(conversation=conversation).values_list("pk", flat=True)),
        "ledger": list(AssignmentEvent.objects.order_by("seq", "id").values()),
        "work": list(WorkItem.objects.filter(ref=conversation.pk).values()),
        "offers": list(Offer.objects.filter(ref=conversation.pk).values()),
    }


@pytest.fixture
def published() -> Iterator[list[tuple[str, dict]]]:
    """Every message sent to a channel-layer group while the test runs."""
    with recording_layer() as layer:
        yield layer.sent


def test_transfer_to_an_agent_of_the_team(teams, published, django_capture_on_commit_callbacks):
    conversation = waiting_conversation(teams["sales_inbox"])
    # Routing's signals leave on commit: run them, so the switch moves the conversation.
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client_for(teams["sup_a"]),
            f"/supervisor/api/conversations/{conversation.pk}/transfer",
            {"agent_id": teams["ag_a"].pk},
        )
    assert response.status_code == 200, response.content
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee_id) == ("assigned", teams["ag_a"].pk)
    assert Message.objects.filter(conversation=conversation, private=True, text__startswith="Transferred").exists()
    # The consoles hear of it (and so the refusals' `published == []` below is a real check).
    assert any(message.get("frame", {}).get("type") == "conversation.status" for _, message in published)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda teams: {"queue_id": teams["support"].pk}, id="another-teams-queue"),
        pytest.param(lambda teams: {"agent_id": teams["ag_b"].pk}, id="another-teams-agent"),
    ],
)
def test_transfer_outside_the_team_is_refused_and_changes_nothing(
    teams, target, published, django_capture_on_commit_callbacks
):
    conversation = waiting_conversation(teams["sales_inbox"])
    before = routing_and_switch_state(conversation)
    assert before["conversation"]["queue_id"] == teams["sales"].pk
    # Anything the refusal queued for commit runs here, so a frame sent by mistake would be seen.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(
            client_for(teams["sup_a"]),
            f"/supervisor/api/conversations/{conversation.pk}/transfer",
            target(teams),
        )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert routing_and_switch_state(conversation) == before
    assert callbacks == [] and published == []


def test_transfer_needs_exactly_one_target(teams):
    conversation = waiting_conversation(teams["sales_inbox"])
    response = post(
        client_for(teams["sup_a"]),
        f"/supervisor/api/conversations/{conversation.pk}/transfer",
        {"queue_id": teams["sales"].pk, "agent_id": teams["ag_a"].pk},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_read_only_page_escapes_what_customers_wrote(teams):
    conversation = waiting_conversation(teams["sales_inbox"])
    switch.message_send(conversation_id=conversation.pk, sender_kind="customer", text="<script>alert(1)</script>")
    page = client_for(teams["sup_a"]).get(f"/supervisor/conversations/{conversation.pk}/")
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_a_note_on_a_closed_conversation_answers_409_as_the_other_apis_do(teams):
    conversation = waiting_conversation(teams["sales_inbox"])
    switch.conversation_close(conversation_id=conversation.pk)
    before = Message.objects.filter(conversation=conversation).count()
    response = post(
        client_for(teams["sup_a"]),
        f"/supervisor/api/conversations/{conversation.pk}/notes",
        {"text": "too late", "client_id": "n-late"},
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "conversation_closed", response.content
    assert Message.objects.filter(conversation=conversation).count() == before
