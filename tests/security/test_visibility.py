"""One visibility rule on every surface: a supervisor of team A is refused every surface of a team B
conversation (console API and socket, supervisor pages, API and socket, transcript, attachment, contact
history, admin) and sees team A's on each of them (imsubsystem.selectors.conversation_visible_to)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from imsubsystem import selectors, services
from imsubsystem.models import Conversation, Message
from tests.factories import AttachmentFactory, ContactFactory
from tests.imsubsystem.conftest import receive_until, send, staff_communicator
from tests.security.conftest import mentions

pytestmark = pytest.mark.django_db(transaction=True)

API = "/api/v1/agent/"


@pytest.fixture
def local_storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": settings.MEDIA_ROOT},
        },
    }


@pytest.fixture
def world(teams, local_storage):
    """One customer with a conversation in each team's queue, each assigned to that team's agent, with a
    customer message, an agent's file and a private note; and a conversation waiting in each queue."""
    contact = ContactFactory(name="Shared Customer")

    def conversation(label: str, inbox, agent) -> tuple[Conversation, object]:
        first, _ = services.customer_message_send(
            inbox_id=inbox.pk, contact_id=contact.pk, text=f"{label} hello", client_id=f"{label}-c1"
        )
        conversation_id = first["conversation_id"]
        assert services.conversation_assign(conversation_id=conversation_id, agent_id=agent.pk)
        attachment = AttachmentFactory(uploader_kind="agent", uploader_id=str(agent.pk), original_name=f"{label}.txt")
        services.message_send(
            conversation_id=conversation_id,
            sender_kind="agent",
            sender_user_id=agent.pk,
            text=f"{label} file",
            client_id=f"{label}-a1",
            attachment_ids=[attachment.pk],
        )
        services.message_send(
            conversation_id=conversation_id,
            sender_kind="agent",
            sender_user_id=agent.pk,
            text=f"{label} secret note",
            client_id=f"{label}-n1",
            private=True,
        )
        Conversation.objects.filter(pk=conversation_id).update(wrap_up=f"{label} wrap-up")
        return Conversation.objects.get(pk=conversation_id), attachment

    a, a_file = conversation("team-A", teams["sales_inbox"], teams["ag_a"])
    b, b_file = conversation("team-B", teams["support_inbox"], teams["ag_b"])
    waiting = {}
    for label, inbox in (("A", teams["sales_inbox"]), ("B", teams["support_inbox"])):
        message, _ = services.customer_message_send(
            inbox_id=inbox.pk, contact_id=ContactFactory().pk, text=f"waiting {label}", client_id=f"w{label}"
        )
        waiting[label] = message["conversation_id"]
    return {**teams, "contact": contact, "a": a, "b": b, "a_file": a_file, "b_file": b_file, "waiting": waiting}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _upload(client: Client, conversation_id: int):
    file = SimpleUploadedFile("x.txt", b"hello\n", content_type="text/plain")
    return client.post(f"{API}uploads?conversation_id={conversation_id}", {"file": file})


def test_the_rule_itself(world):
    sup_a, b, a = world["sup_a"], world["b"], world["a"]
    assert selectors.conversation_visible_to(user=sup_a, conversation=a)
    assert not selectors.conversation_visible_to(user=sup_a, conversation=b)
    assert selectors.conversation_visible_to(user=world["ag_b"], conversation=b)
    assert not selectors.conversation_visible_to(user=world["ag_a"], conversation=b)
    visible = set(
        Conversation.objects.filter(selectors.conversations_visible_q(user=sup_a)).values_list("pk", flat=True)
    )
    assert visible == {a.pk, world["waiting"]["A"]}
    # Row and query say the same for every user and conversation.
    for user in (world["sup_a"], world["sup_b"], world["ag_a"], world["ag_b"]):
        in_query = set(
            Conversation.objects.filter(selectors.conversations_visible_q(user=user)).values_list("pk", flat=True)
        )
        by_row = {
            c.pk for c in Conversation.objects.all() if selectors.conversation_visible_to(user=user, conversation=c)
        }
        assert in_query == by_row, user.username


def test_http_surfaces_refuse_the_other_team_and_serve_ones_own(world):
    client = _client(world["sup_a"])
    a, b = world["a"], world["b"]
    notes_before = world["contact"].notes.count()
    messages_before = Message.objects.filter(conversation=b).count()

    for conversation, expected in ((b, 404), (a, 200)):
        pk = conversation.pk
        assert client.get(f"{API}conversations/{pk}/messages").status_code == expected
        assert client.get(f"{API}conversations/{pk}/contact").status_code == expected
        assert client.get(f"{API}conversations/{pk}/templates").status_code == expected
        assert client.get(f"/supervisor/api/conversations/{pk}").status_code == expected
        assert client.get(f"/supervisor/conversations/{pk}/").status_code == expected  # the transcript
    assert _upload(client, b.pk).status_code == 404
    assert _upload(client, a.pk).status_code == 201
    note = client.post(f"{API}conversations/{b.pk}/contact/notes", json.dumps({"body": "x"}), "application/json")
    assert note.status_code == 404
    whisper = client.post(
        f"/supervisor/api/conversations/{b.pk}/notes",
        json.dumps({"text": "psst", "client_id": "w1"}),
        "application/json",
    )
    assert whisper.status_code == 404
    assert world["contact"].notes.count() == notes_before
    assert Message.objects.filter(conversation=b).count() == messages_before

    # The transcript and the history carry team A's note and never team B's.
    transcript = client.get(f"/supervisor/conversations/{a.pk}/").content.decode()
    assert "team-A secret note" in transcript and "team-B" not in transcript

    # The waiting list: my team's queue only.
    waiting = [c["id"] for c in client.get(API + "queue").json()["conversations"]]
    assert waiting == [world["waiting"]["A"]]


def test_contact_history_shows_only_visible_conversations(world):
    client = _client(world["sup_a"])
    a, b = world["a"], world["b"]
    history = client.get(f"{API}conversations/{a.pk}/contact").json()["contact"]["conversations"]
    assert [c["id"] for c in history] == [a.pk]
    page = client.get(f"/crm/contacts/{world['contact'].pk}/").content.decode()
    assert "team-A wrap-up" in page and "team-B wrap-up" not in page
    # Team B's supervisor sees the other half.
    other = _client(world["sup_b"]).get(f"/crm/contacts/{world['contact'].pk}/").content.decode()
    assert "team-B wrap-up" in other and "team-A wrap-up" not in other
    assert b.pk != a.pk


def test_attachments_of_the_other_team_are_never_linked_or_served(world):
    client = _client(world["sup_a"])
    a, b = world["a"], world["b"]
    mine = client.get(f"{API}conversations/{a.pk}/messages").json()["messages"]
    url = next(att["url"] for m in mine for att in m["attachments"])
    assert client.get(url).status_code == 200
    # A link issued to team B's agent does not open in team A's supervisor's session.
    theirs = selectors.payload_for_viewer(
        selectors.messages_after(conversation_id=b.pk, include_private=True)[1], viewer=f"agent:{world['ag_b'].pk}"
    )
    b_url = theirs["attachments"][0]["url"]
    assert _client(world["ag_b"]).get(b_url).status_code == 200
    assert client.get(b_url).status_code == 403


def test_a_link_stops_working_once_its_viewer_may_no_longer_see_the_conversation(world):
    """Serving a file asks the rule again: a link issued while the conversation was team A's is refused
    once it has moved to team B, before the link would expire."""
    client = _client(world["sup_a"])
    a = world["a"]
    mine = client.get(f"{API}conversations/{a.pk}/messages").json()["messages"]
    url = next(att["url"] for m in mine for att in m["attachments"])
    assert client.get(url).status_code == 200
    Conversation.objects.filter(pk=a.pk).update(queue=world["support"])
    assert client.get(url).status_code == 403
    # Its assigned agent still opens its own links.
    agent = _client(world["ag_a"])
    own = agent.get(f"{API}conversations/{a.pk}/messages").json()["messages"]
    assert agent.get(next(att["url"] for m in own for att in m["attachments"])).status_code == 200


def test_the_admin_lists_only_visible_conversations(world):
    client = _client(world["sup_a"])
    a, b = world["a"], world["b"]
    assert client.get(f"/admin/imsubsystem/conversation/{a.pk}/change/").status_code == 200
    refused = client.get(f"/admin/imsubsystem/conversation/{b.pk}/change/", follow=True)
    assert "team-B secret note" not in refused.content.decode()
    listing = client.get("/admin/imsubsystem/conversation/").content.decode()
    assert f"/admin/imsubsystem/conversation/{a.pk}/change/" in listing
    assert f"/admin/imsubsystem/conversation/{b.pk}/change/" not in listing


async def test_the_agent_socket_refuses_the_other_team_and_serves_ones_own(world):
    a, b = world["a"], world["b"]
    ws = await database_sync_to_async(staff_communicator)(world["sup_a"])
    assert (await ws.connect())[0]
    seen: list[dict] = []
    ready = await receive_until(ws, "agent.ready", collect=seen)
    seen.append(ready)
    for frame in (
        {"type": "resume", "conversation_id": b.pk, "after_seq": 0},
        {"type": "message.send", "conversation_id": b.pk, "client_id": "s1", "text": "psst", "private": True},
        {"type": "read", "conversation_id": b.pk, "up_to_seq": 1},
        {"type": "typing", "conversation_id": b.pk, "active": True},
        {"type": "conversation.close", "conversation_id": b.pk},
    ):
        await send(ws, frame)
        error = await receive_until(ws, "error", collect=seen)
        assert error["code"] == "not_found", (frame, error)
    # A customer writes into B meanwhile: nothing of it arrives.
    await database_sync_to_async(services.customer_message_send)(
        inbox_id=world["support_inbox"].pk, contact_id=world["contact"].pk, text="B again", client_id="B-c2"
    )
    await send(ws, {"type": "resume", "conversation_id": a.pk, "after_seq": 0})
    done = await receive_until(ws, "resume.done", collect=seen)
    assert done["conversation_id"] == a.pk
    assert [m["message"]["text"] for m in seen if m["type"] == "message.new"] == [
        "team-A hello",
        "team-A file",
        "team-A secret note",
    ]
    assert not [f for f in seen if mentions(f, b.pk)]
    assert await database_sync_to_async(Message.objects.filter(conversation=b, client_id="s1").exists)() is False
    await ws.disconnect()


async def test_the_supervisor_socket_passes_on_its_teams_agents_only(world):
    ws = await database_sync_to_async(staff_communicator)(world["sup_a"], "/ws/v1/supervisor/")
    assert (await ws.connect())[0]
    await receive_until(ws, "queue.stats")
    await database_sync_to_async(services.agent_presence_publish)(agent_id=world["ag_b"].pk, status="available")
    await database_sync_to_async(services.agent_presence_publish)(agent_id=world["ag_a"].pk, status="away")
    presence = await receive_until(ws, "presence")
    assert presence["agent_id"] == world["ag_a"].pk
    await ws.disconnect()


async def test_a_watching_socket_leaves_when_the_conversation_moves_to_another_team(world):
    a = world["a"]
    ws = await database_sync_to_async(staff_communicator)(world["sup_a"])
    assert (await ws.connect())[0]
    await receive_until(ws, "agent.ready")
    await send(ws, {"type": "resume", "conversation_id": a.pk, "after_seq": 0})
    await receive_until(ws, "resume.done")
    await database_sync_to_async(services.customer_message_send)(
        inbox_id=world["sales_inbox"].pk, contact_id=world["contact"].pk, text="still team A", client_id="A-c2"
    )
    live = await receive_until(ws, "message.new")
    assert live["message"]["text"] == "still team A"

    # Routing moves it to team B's queue (an overflow, a transfer): the socket stops hearing of it.
    assert await database_sync_to_async(services.conversation_requeued)(
        conversation_id=a.pk, queue_id=world["support"].pk
    )
    await database_sync_to_async(services.customer_message_send)(
        inbox_id=world["sales_inbox"].pk, contact_id=world["contact"].pk, text="now team B", client_id="A-c3"
    )
    await asyncio.sleep(0.5)  # time for anything published to arrive
    await send(ws, {"type": "ping"})
    seen: list[dict] = []
    await receive_until(ws, "pong", collect=seen)
    await send(ws, {"type": "resume", "conversation_id": a.pk, "after_seq": 0})
    refused = await receive_until(ws, "error", collect=seen)
    assert refused["code"] == "not_found"
    assert [f for f in seen if mentions(f, a.pk)] == []
    await ws.disconnect()
