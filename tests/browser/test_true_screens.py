"""What the customer and the agent are shown is what is true: the newest status wins over frames that
arrive late, messages carry no noise, refusals are said in words."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.models import ChannelKind
from crm.roles import AGENT
from imsubsystem import services
from imsubsystem.events import group_conversation
from imsubsystem.models import Conversation, Inbox
from routing.models import RoutingPolicy
from tests.browser.test_chat import customer_send, log_in_agent, open_widget, pick_from_queue
from tests.factories import UserFactory
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web_shop(transactional_db):
    # A manual-pick queue: no offers, so the agent takes the conversation from the queue view.
    queue = QueueFactory(name="Support", policy=RoutingPolicy.MANUAL)
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queue)
    agent = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    AgentProfileFactory(user=agent, queues=[queue], status="available")
    return {"queue": queue, "inbox": inbox, "agent": agent}


def publish(conversation_id: int, frame: dict) -> None:
    """A frame to the conversation's sockets through the real channel layer, as a second server process
    would send it (outside a transaction it leaves at once)."""
    services.event_publish_on_commit(group=group_conversation(conversation_id), frame=frame)


def test_a_status_frame_that_arrives_late_does_not_replace_the_newer_one(web_shop, live_server_url, new_context):
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "Is anyone there?")
    expect(customer.locator(".sbw-banner")).to_have_text(re.compile(r"^You are number 1 in the queue"))
    pick_from_queue(agent)
    expect(customer.locator(".sbw-banner")).to_have_text("You are chatting with Alex.")
    expect(agent.locator("#con-chat-status")).to_have_text("assigned")

    conversation = Conversation.objects.get(inbox=web_shop["inbox"])
    assert conversation.status == "assigned"
    # The queue position computed just before the agent picked, delivered after it (another process).
    late = {
        "type": "conversation.status",
        "conversation_id": conversation.pk,
        "status": "queued",
        "version": conversation.status_version - 1,
        "queue": {"position": 1, "eta_s": 60},
    }
    publish(conversation.pk, late)
    # A frame sent after it by the same publisher: once it shows, the late one has been read too.
    publish(
        conversation.pk,
        {
            "type": "typing",
            "conversation_id": conversation.pk,
            "active": True,
            "sender": {"kind": "agent", "name": "Alex"},
        },
    )
    expect(customer.locator(".sbw-typing")).to_be_visible()
    expect(customer.locator(".sbw-banner")).to_have_text("You are chatting with Alex.")
    agent.wait_for_timeout(300)  # the console got the same late frame; give it the same chance
    expect(agent.locator("#con-chat-status")).to_have_text("assigned")

    # A newer status is shown at once.
    services.conversation_close(conversation_id=conversation.pk, by_user_id=web_shop["agent"].pk)
    expect(customer.locator(".sbw-banner")).to_contain_text("closed")
    expect(agent.locator("#con-chat-status")).to_have_text("closed")
