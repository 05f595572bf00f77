"""The agent console's JSON endpoints (interface/api_agent/): who may call them, what they show."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import ChannelKind, Contact
from crm.roles import AGENT, SUPERVISOR
from imsubsystem.models import CannedResponse, Conversation, Inbox, Message
from interface.api_agent import conversations
from routing.models import Queue
from tests.factories import ContactFactory, ContactIdentityFactory, NoteFactory, UserFactory
from tests.factories.routing import AgentProfileFactory, QueueFactory

API = "/api/v1/agent/"


def make_inbox(key: str = "web-main", queue: Queue | None = None) -> Inbox:
    return Inbox.objects.create(kind=ChannelKind.WEB, key=key, name="Web shop", default_queue=queue)


def make_conversation(*, contact, inbox, status="assigned", assignee=None, queue=None, queued_at=None, **extra):
    conversation = Conversation.objects.create(
        contact=contact,
        inbox=inbox,
        status=status,
        assignee=assignee,
        queue=queue,
        queued_at=queued_at,
        waiting_since=queued_at,
        open_slot=None if status == "closed" else f"{inbox.pk}:{contact.pk}",
        **extra,
    )
    return conversation


def add_message(conversation, *, text, kind="customer", user=None, private=False, client_id=None) -> Message:
    seq = conversation.last_seq + 1
    message = Message.objects.create(
        conversation=conversation,
        inbox=conversation.inbox,
        seq=seq,
        sender_kind=kind,
        sender_user=user,
        sender_key=f"agent:{user.pk}" if kind == "agent" else kind,
        client_id=client_id,
        text=text,
        private=private,
    )
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq, last_message_at=message.created_at)
    conversation.refresh_from_db()
    return message


@pytest.fixture
def queue(db):
    return QueueFactory(name="Support")


@pytest.fixture
def inbox(queue):
    return make_inbox(queue=queue)


@pytest.fixture
def assigned(agent, inbox, queue):
    contact = ContactFactory(name="Ada Lovelace")
    conversation = make_conversation(contact=contact, inbox=inbox, assignee=agent, queue=queue)
    add_message(conversation, text="Hello, my order is late")
    add_message(conversation, text="Looking into it", kind="agent", user=agent)
    add_message(conversation, text="Checked the carrier", kind="agent", user=agent, private=True)
    add_message(conversation, text="Any news?")
    add_message(conversation, text="<img src=x onerror=alert(1)>")
    Conversation.objects.filter(pk=conversation.pk).update(agent_last_read_seq=2)
    conversation.refresh_from_db()
    return conversation


class TestAccess:
    @pytest.mark.parametrize(
        "path", ["conversations", "queue", "canned", "transfer-targets", "conversations/1/messages"]
    )
    def test_anonymous_gets_401_json_not_a_redirect(self, client, db, path):
        response = client.get(API + path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "auth_required"

    def test_user_without_a_console_role_is_refused(self, client, db):
        user = UserFactory(username="nobody")
        user.groups.remove(*Group.objects.all())
        client.force_login(user)
        assert client.get(API + "conversations").status_code == 403
        assert client.get("/agent/").status_code == 403

    def test_an_agent_cannot_read_another_agents_conversation(self, client, assigned):
        other = UserFactory(username="agent-b", role=AGENT)
        client.force_login(other)
        for path in ("messages", "contact"):
            response = client.get(f"{API}conversations/{assigned.pk}/{path}")
            assert response.status_code == 404, path
        response = client.post(
            f"{API}conversations/{assigned.pk}/contact", json.dumps({"name": "Hijack"}), content_type="application/json"
        )
        assert response.status_code == 404
        assert Contact.objects.get(pk=assigned.contact_id).name == "Ada Lovelace"

    def test_a_supervisor_reads_the_conversations_of_their_teams_only(self, supervisor_client, supervisor, assigned):
        from supervisor.models import Team

        assert supervisor_client.get(f"{API}conversations/{assigned.pk}/messages").status_code == 404
        Team.objects.create(name="Support team").supervisors.add(supervisor)
        Team.objects.get(name="Support team").queues.add(assigned.queue)
        response = supervisor_client.get(f"{API}conversations/{assigned.pk}/messages")
        assert response.status_code == 200
        assert [m["seq"] for m in response.json()["messages"]] == [1, 2, 3, 4, 5]

    def test_writes_need_the_csrf_token(self, agent, assigned):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(agent)
        response = client.post(
            f"{API}conversations/{assigned.pk}/contact", json.dumps({"name": "X"}), content_type="application/json"
        )
        assert response.status_code == 403
        assert Contact.objects.get(pk=assigned.contact_id).name == "Ada Lovelace"


class TestMyConversations:
    def test_lists_mine_with_unread_status_and_preview(self, agent_client, agent, assigned, inbox, queue):
        other_agent = UserFactory(username="agent-c", role=AGENT)
        make_conversation(contact=ContactFactory(), inbox=make_inbox("other"), assignee=other_agent, queue=queue)
        response = agent_client.get(API + "conversations")
        assert response.status_code == 200
        rows = response.json()["conversations"]
        assert [r["id"] for r in rows] == [assigned.pk]
        row = rows[0]
        assert row["status"] == "assigned"
        assert row["contact"]["name"] == "Ada Lovelace"
        # Customer messages after the agent's read pointer (seq 2): seqs 4 and 5.
        assert row["unread"] == 2
        assert row["last_message"]["text"] == "<img src=x onerror=alert(1)>"
        assert row["queue"] == {"id": queue.pk, "name": "Support"}
        assert response["Cache-Control"].startswith("max-age=0")

    def test_recently_closed_stay_listed_old_ones_do_not(self, agent_client, agent, inbox, queue):
        recent = make_conversation(
            contact=ContactFactory(), inbox=inbox, status="closed", assignee=agent, closed_at=timezone.now()
        )
        make_conversation(
            contact=ContactFactory(),
            inbox=inbox,
            status="closed",
            assignee=agent,
            closed_at=timezone.now() - timedelta(days=2),
        )
        rows = agent_client.get(API + "conversations").json()["conversations"]
        assert [(r["id"], r["status"]) for r in rows] == [(recent.pk, "closed")]


class TestQueue:
    def test_shows_waiting_conversations_of_my_queues_in_order(self, agent_client, agent, inbox, queue):
        AgentProfileFactory(user=agent, queues=[queue])
        elsewhere = QueueFactory(name="Sales")
        now = timezone.now()
        first = make_conversation(
            contact=ContactFactory(name="First"),
            inbox=inbox,
            status="queued",
            queue=queue,
            queued_at=now - timedelta(minutes=5),
        )
        add_message(first, text="Is anyone there?")
        second = make_conversation(
            contact=ContactFactory(name="Second"),
            inbox=make_inbox("second"),
            status="queued",
            queue=queue,
            queued_at=now - timedelta(minutes=1),
        )
        make_conversation(
            contact=ContactFactory(), inbox=make_inbox("third"), status="queued", queue=elsewhere, queued_at=now
        )
        with CaptureQueriesContext(connection) as queries:
            rows = agent_client.get(API + "queue").json()["conversations"]
        assert [(r["id"], r["position"]) for r in rows] == [(first.pk, 1), (second.pk, 2)]
        assert rows[0]["last_message"]["text"] == "Is anyone there?"
        assert [r["waiting_since"] for r in rows] == [
            (now - timedelta(minutes=5)).isoformat(),
            (now - timedelta(minutes=1)).isoformat(),
        ]
        # The waiting conversations are read once: waiting_since comes with them.
        conversation_reads = [q["sql"] for q in queries if "FROM `imsubsystem_conversation`" in q["sql"]]
        assert len(conversation_reads) == 1, conversation_reads

    def test_an_agent_without_queues_sees_an_empty_queue(self, agent_client, inbox, queue):
        make_conversation(contact=ContactFactory(), inbox=inbox, status="queued", queue=queue, queued_at=timezone.now())
        assert agent_client.get(API + "queue").json()["conversations"] == []

    def test_a_supervisor_sees_the_queues_of_their_teams(self, supervisor_client, supervisor, inbox, queue):
        from supervisor.models import Team

        waiting = make_conversation(
            contact=ContactFactory(), inbox=inbox, status="queued", queue=queue, queued_at=timezone.now()
        )
        assert supervisor_client.get(API + "queue").json()["conversations"] == []
        team = Team.objects.create(name="Support team")
        team.supervisors.add(supervisor)
        team.queues.add(queue)
        rows = supervisor_client.get(API + "queue").json()["conversations"]
        assert [r["id"] for r in rows] == [waiting.pk]


class TestHistory:
    def test_after_seq_returns_the_rest_in_order_with_private_notes(self, agent_client, assigned):
        data = agent_client.get(f"{API}conversations/{assigned.pk}/messages?after_seq=2").json()
        assert data["conversation_id"] == assigned.pk
        assert data["last_seq"] == 5
        assert data["has_more"] is False
        assert [(m["seq"], m["private"]) for m in data["messages"]] == [(3, True), (4, False), (5, False)]
        assert data["messages"][2]["text"] == "<img src=x onerror=alert(1)>"
        assert data["messages"][0]["sender"]["kind"] == "agent"

    @pytest.mark.parametrize("bad", ["-1", "abc", "1.5"])
    def test_a_bad_after_seq_is_a_clear_400(self, agent_client, assigned, bad):
        response = agent_client.get(f"{API}conversations/{assigned.pk}/messages?after_seq={bad}")
        assert response.status_code == 400
        assert "after_seq" in response.json()["error"]["detail"]

    def test_an_unknown_conversation_is_404(self, agent_client, db):
        assert agent_client.get(f"{API}conversations/999999/messages").status_code == 404

    def test_long_histories_come_in_pages(self, agent_client, agent, inbox, queue, monkeypatch):
        monkeypatch.setattr(conversations, "HISTORY_PAGE", 3)
        conversation = make_conversation(contact=ContactFactory(), inbox=inbox, assignee=agent, queue=queue)
        for n in range(7):
            add_message(conversation, text=f"m{n}")
        first = agent_client.get(f"{API}conversations/{conversation.pk}/messages?after_seq=0").json()
        assert [m["seq"] for m in first["messages"]] == [1, 2, 3] and first["has_more"] is True
        last = agent_client.get(f"{API}conversations/{conversation.pk}/messages?after_seq=6").json()
        assert [m["seq"] for m in last["messages"]] == [7] and last["has_more"] is False


class TestContact:
    def test_shows_identities_notes_and_past_conversations(self, agent_client, agent, assigned, inbox):
        contact = assigned.contact
        ContactIdentityFactory(contact=contact, kind=ChannelKind.TELEGRAM, external_id="tg-42", display_name="ada")
        NoteFactory(contact=contact, body="VIP, handle with care", author=agent)
        earlier = make_conversation(
            contact=contact,
            inbox=make_inbox("older"),
            status="closed",
            assignee=agent,
            closed_at=timezone.now(),
            wrap_up="Refunded",
        )
        data = agent_client.get(f"{API}conversations/{assigned.pk}/contact").json()["contact"]
        assert data["id"] == contact.pk
        assert data["name"] == "Ada Lovelace"
        assert data["identities"] == [
            {
                "kind": "telegram",
                "kind_label": "Telegram",
                "external_id": "tg-42",
                "display_name": "ada",
                "verified": False,
            }
        ]
        assert [n["body"] for n in data["notes"]] == ["VIP, handle with care"]
        past = {c["id"]: c for c in data["conversations"]}
        assert set(past) == {assigned.pk, earlier.pk}
        assert past[assigned.pk]["current"] is True
        assert past[earlier.pk]["wrap_up"] == "Refunded"
        assert data["url"] == f"/crm/contacts/{contact.pk}/"
        assert data["can_edit"] is True

    def test_edits_go_through_contact_update(self, agent_client, assigned):
        response = agent_client.post(
            f"{API}conversations/{assigned.pk}/contact",
            json.dumps({"name": "Ada King", "emails": ["ada@example.org", "ADA@example.org"], "language": "en-GB"}),
            content_type="application/json",
        )
        assert response.status_code == 200
        contact = Contact.objects.get(pk=assigned.contact_id)
        assert contact.name == "Ada King"
        # contact_update folds duplicate addresses (case-insensitive).
        assert contact.emails == ["ada@example.org"]
        assert contact.language == "en-GB"
        assert response.json()["contact"]["display_name"] == "Ada King"

    @pytest.mark.parametrize(
        "body, message",
        [
            ({"company": 1}, "Cannot edit: company"),
            ({"tags": ["x"]}, "Cannot edit: tags"),
            ({"emails": "ada@example.org"}, "emails must be a list"),
            ({"name": 42}, "name must be a string"),
            ({"phones": [1, 2]}, "list of strings"),
        ],
    )
    def test_bad_edits_change_nothing(self, agent_client, assigned, body, message):
        response = agent_client.post(
            f"{API}conversations/{assigned.pk}/contact", json.dumps(body), content_type="application/json"
        )
        assert response.status_code == 400
        assert message in response.json()["error"]["detail"]
        assert Contact.objects.get(pk=assigned.contact_id).name == "Ada Lovelace"

    def test_a_field_that_fails_validation_is_reported_and_nothing_is_saved(self, agent_client, assigned):
        response = agent_client.post(
            f"{API}conversations/{assigned.pk}/contact",
            json.dumps({"name": "Ada King", "language": "x" * 40}),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert "language" in response.json()["error"]["errors"]
        assert Contact.objects.get(pk=assigned.contact_id).name == "Ada Lovelace"

    def test_not_json_is_refused(self, agent_client, assigned):
        response = agent_client.post(
            f"{API}conversations/{assigned.pk}/contact", "name=x", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"

    def test_add_a_note(self, agent_client, agent, assigned):
        response = agent_client.post(
            f"{API}conversations/{assigned.pk}/contact/notes",
            json.dumps({"body": "Prefers e-mail"}),
            content_type="application/json",
        )
        assert response.status_code == 201
        assert response.json()["contact"]["notes"][0]["body"] == "Prefers e-mail"
        assert assigned.contact.notes.get().author == agent

    def test_an_empty_note_is_refused(self, agent_client, assigned):
        response = agent_client.post(
            f"{API}conversations/{assigned.pk}/contact/notes",
            json.dumps({"body": "  "}),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert not assigned.contact.notes.exists()


class TestCannedAndTargets:
    def test_shared_and_own_responses_own_wins(self, agent_client, agent):
        other = UserFactory(username="agent-d", role=AGENT)
        CannedResponse.objects.create(shortcut="hello", title="Hello", text="Hi {{contact.name}}!")
        CannedResponse.objects.create(shortcut="refund", title="Refund", text="Shared refund text")
        CannedResponse.objects.create(shortcut="refund", title="My refund", text="My refund text", owner=agent)
        CannedResponse.objects.create(shortcut="secret", title="Theirs", text="Not for you", owner=other)
        items = agent_client.get(API + "canned").json()["canned_responses"]
        assert [(i["shortcut"], i["text"], i["shared"]) for i in items] == [
            ("hello", "Hi {{contact.name}}!", True),
            ("refund", "My refund text", False),
        ]

    def test_canned_responses_carry_their_translations(self, agent_client, agent):
        from django.core.exceptions import ValidationError

        CannedResponse.objects.create(
            shortcut="hi", title="Hi", text="Hello!", translations={"zh-Hans": "您好！", "fr": "Bonjour !"}
        )
        (item,) = agent_client.get(API + "canned").json()["canned_responses"]
        assert item["text"] == "Hello!" and item["translations"] == {"zh-Hans": "您好！", "fr": "Bonjour !"}
        bad = CannedResponse(shortcut="bad", title="Bad", text="x", translations={"Chinese": "您好"})
        with pytest.raises(ValidationError) as raised:
            bad.full_clean()
        assert "translations" in raised.value.message_dict

    def test_transfer_targets_list_queues_and_other_agents(self, agent_client, agent, queue):
        AgentProfileFactory(user=agent)
        colleague = UserFactory(username="agent-e", first_name="Grace", role=AGENT)
        AgentProfileFactory(user=colleague, status="available")
        QueueFactory(name="Closed queue", is_active=False)
        data = agent_client.get(API + "transfer-targets").json()
        assert data["queues"] == [{"id": queue.pk, "name": "Support"}]
        assert data["agents"] == [
            {"id": colleague.pk, "name": "Grace", "username": colleague.username, "detail": "Available"}
        ]


class TestSupervisorRole:
    def test_a_supervisor_may_open_the_console(self, client, db):
        client.force_login(UserFactory(username="sup-2", role=SUPERVISOR))
        assert client.get("/agent/").status_code == 200
        assert client.get(API + "conversations").status_code == 200
