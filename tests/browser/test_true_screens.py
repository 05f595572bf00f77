"""What the customer and the agent are shown is what is true: the newest status wins over frames that
arrive late, messages carry no noise, refusals are said in words."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from crm.models import ChannelKind
from crm.roles import AGENT
from imsubsystem import services
from imsubsystem.events import group_conversation
from imsubsystem.models import Conversation, Inbox
from routing.models import RoutingPolicy
from tests.browser.test_chat import agent_send, customer_send, log_in_agent, open_widget, pick_from_queue
from tests.factories import UserFactory
from tests.factories.crm import PASSWORD
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


def test_messages_show_only_problems_and_read_state_and_refusals_are_words(web_shop, live_server_url, new_context):
    customer = new_context().new_page()
    refused: list[str] = []

    def refuse_one_send(ws):
        """The server refuses the customer's second message as too long (the widget caps its input, so
        the refusal is made here, in the shape the server sends)."""
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message) if isinstance(message, str) else {}
            if frame.get("type") == "message.send" and frame.get("text") == "Refuse me" and not refused:
                refused.append(frame["client_id"])
                ws.send(
                    json.dumps(
                        {
                            "type": "error",
                            "code": "too_long",
                            "detail": "too long",
                            "client_id": frame["client_id"],
                            "command": "message.send",
                        }
                    )
                )
                return
            server.send(message)

        ws.on_message(from_page)
        server.on_message(lambda message: ws.send(message))

    customer.route_web_socket(re.compile(r".*/ws/v1/widget/.*"), refuse_one_send)
    customer.goto(f"{live_server_url}/widget/demo/demo/")
    customer.locator(".sbw-launcher").click()

    def inject_into_console(ws):
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))
        server.on_message(lambda message: ws.send(message))
        console_sockets.append(ws)

    console_sockets: list = []  # the console's socket, to send it a frame as the server would
    agent = new_context().new_page()
    agent.route_web_socket(re.compile(r".*/ws/v1/agent/.*"), inject_into_console)
    agent.goto(f"{live_server_url}/accounts/login/?next=/agent/")
    agent.fill("input[name=username]", "agent1")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("button[type=submit]")
    expect(agent.locator("#con-link")).to_have_attribute("data-state", "online")

    customer_send(customer, "Hello, my order?")
    first = customer.locator(".sbw-msg[data-seq='1']")
    expect(first).to_have_attribute("data-state", "sent")
    expect(first.locator(".sbw-receipt")).to_have_text("")  # no "Sent" under every message
    pick_from_queue(agent)
    agent_send(agent, "Let me check.")
    expect(customer.locator(".sbw-from-agent .sbw-text")).to_have_text(["Let me check."])
    # Read state still shows: the agent has read the customer's message, the customer the answer.
    expect(first.locator(".sbw-receipt")).to_have_text("Read")
    expect(agent.locator("#con-messages .msg.from-agent.seen")).to_have_count(1)
    # The history as loaded from the server: no "stored" under every message.
    agent.reload()
    expect(agent.locator("#con-link")).to_have_attribute("data-state", "online")
    agent.locator("#con-mine .con-item").first.click()
    reply = agent.locator("#con-messages .msg.from-agent").last
    expect(reply).to_have_attribute("data-delivery", "stored")
    expect(agent.locator("#con-messages .msg-delivery")).to_have_count(0)

    customer_send(customer, "Refuse me")
    expect(customer.locator(".sbw-msg[data-state=failed] .sbw-receipt")).to_have_text(
        "Not sent: Your message is too long. Please shorten it."
    )
    assert refused

    # A refusal on the console reads as a sentence, never as a code.
    console_sockets[-1].send(
        json.dumps({"type": "error", "code": "not_waiting", "detail": "not waiting", "command": "conversation.pick"})
    )
    notice = agent.locator(".con-notice")
    expect(notice).to_have_text("The conversation is no longer waiting in the queue: someone else may have taken it.")
    assert "not_waiting" not in notice.text_content()


def test_the_console_header_names_the_queue_a_transfer_moved_the_conversation_to(
    web_shop, live_server_url, new_context
):
    sales = QueueFactory(name="Sales", policy=RoutingPolicy.MANUAL)
    web_shop["agent"].agent_profile.queues.add(sales)
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "Billing question")
    pick_from_queue(agent)
    expect(agent.locator("#con-chat-meta")).to_contain_text("Support")

    agent.keyboard.press("Alt+T")
    expect(agent.locator("#con-transfer")).to_be_visible()
    agent.select_option("#con-transfer-queue", label="Sales")
    agent.locator("#con-transfer button[value=ok]").click()
    expect(agent.locator("#con-mine .con-item")).to_have_count(0)

    # From here the console learns only from frames: its list fetch is held back.
    agent.route(re.compile(r".*/api/v1/agent/conversations$"), lambda route: None)
    pick_from_queue(agent)
    expect(agent.locator("#con-chat-meta")).to_contain_text("Sales")
    expect(agent.locator("#con-chat-meta")).not_to_contain_text("Support")
    assert Conversation.objects.get(inbox=web_shop["inbox"]).queue_id == sales.pk
