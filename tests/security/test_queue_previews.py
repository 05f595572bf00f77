"""The console's waiting list shows a preview of each conversation's last message. An agent sees the waiting
list of every queue they serve, but not the conversations in it (the one visibility rule), so a private note
never reaches them through a preview: they read the last public message; whoever may see the conversation
(its team's supervisor) reads the note."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.roles import AGENT, SUPERVISOR
from imsubsystem.models import Message
from routing.models import AgentStatus
from supervisor.models import Team
from tests.factories import AgentProfileFactory, ConversationFactory, InboxFactory, QueueFactory, UserFactory

pytestmark = pytest.mark.django_db


def queue_previews(user) -> dict[int, dict]:
    client = Client()
    client.force_login(user)
    response = client.get("/api/v1/agent/queue")
    assert response.status_code == 200
    return {c["id"]: c["last_message"] for c in response.json()["conversations"]}


def test_a_private_note_never_reaches_an_agent_through_the_waiting_list():
    queue = QueueFactory(name="Billing")
    inbox = InboxFactory(key="billing", default_queue=queue)
    writer = UserFactory(username="note-writer", role=AGENT)
    reader = UserFactory(username="queue-reader", role=AGENT)
    for user in (writer, reader):
        AgentProfileFactory(user=user, queues=[queue], status=AgentStatus.AVAILABLE)
    boss = UserFactory(username="billing-boss", role=SUPERVISOR)
    team = Team.objects.create(name="Billing team")
    team.supervisors.set([boss])
    team.queues.set([queue])
    # Transferred back to the queue after the agent wrote a note: waiting, its last message the note.
    conversation = ConversationFactory(inbox=inbox, queue=queue, status="queued", assignee=None, last_seq=2)
    Message.objects.create(conversation=conversation, inbox=inbox, seq=1, sender_kind="customer", text="Refund?")
    Message.objects.create(
        conversation=conversation,
        inbox=inbox,
        seq=2,
        sender_kind="agent",
        sender_user=writer,
        text="Customer owes us 300, do not refund",
        private=True,
    )

    seen_by_agent = queue_previews(reader)[conversation.pk]
    assert seen_by_agent["text"] == "Refund?" and seen_by_agent["private"] is False
    seen_by_supervisor = queue_previews(boss)[conversation.pk]
    assert seen_by_supervisor["text"] == "Customer owes us 300, do not refund"
