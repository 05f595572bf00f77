"""After a chat with an agent and the agent's close, the customer rates the conversation by clicking a
button in the widget: the rating is recorded, the conversation stays closed and leaves the agent's list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bots.models import SurveyResponse
from crm.models import ChannelKind
from crm.roles import AGENT
from imsubsystem.models import Conversation, Inbox
from routing.models import RoutingPolicy
from tests.bots.conftest import build_flow
from tests.browser.test_chat import agent_send, customer_send, log_in_agent, open_widget, pick_from_queue
from tests.factories import UserFactory
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop_with_bot(transactional_db):
    # Manual-pick queues: no offers, the agent takes the conversation from the queue view.
    queues = {
        "sales": QueueFactory(name="Sales", policy=RoutingPolicy.MANUAL),
        "support": QueueFactory(name="Support", policy=RoutingPolicy.MANUAL),
    }
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queues["support"])
    build_flow(inbox, queues)
    agent = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    AgentProfileFactory(user=agent, queues=list(queues.values()), status="available")
    return {"inbox": inbox, "agent": agent}


def test_the_customer_rates_with_a_button_after_the_agent_closes(shop_with_bot, live_server_url, new_context):
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "agent")
    expect(customer.locator(".sbw-banner")).to_contain_text("queue")
    pick_from_queue(agent)
    customer_send(customer, "My parcel 4471 is late")
    expect(agent.locator("#con-messages .msg-text").last).to_have_text("My parcel 4471 is late")
    agent_send(agent, "It ships today.")
    expect(customer.locator(".sbw-from-agent .sbw-text")).to_have_text(["It ships today."])

    agent.keyboard.press("Alt+W")
    agent.locator("#con-close button[value=ok]").click()
    expect(agent.locator("#con-chat-status")).to_have_text("closed")

    question = customer.locator(".sbw-msg", has_text="How did we do?")
    expect(question.locator(".sbw-choice")).to_have_text(["1", "2", "3", "4", "5"])
    question.locator(".sbw-choice", has_text="5").click()
    expect(customer.locator(".sbw-text").last).to_have_text(
        'Thank you! Anything you would like to add? (Reply "no" to skip.)'
    )
    expect(question.locator(".sbw-choice").first).to_be_disabled()
    expect(customer.locator(".sbw-banner")).to_contain_text("closed")

    conversation = Conversation.objects.get(inbox=shop_with_bot["inbox"])
    survey = SurveyResponse.objects.get(conversation_id=conversation.pk)
    assert survey.rating == 5 and survey.agent_id == shop_with_bot["agent"].pk
    assert conversation.status == "closed"
    # Not back in the agent's list as an open conversation, live or after a reload.
    expect(agent.locator("#con-mine-count")).to_have_text("0")
    expect(agent.locator("#con-mine .status-bot")).to_have_count(0)
    agent.reload()
    expect(agent.locator("#con-link")).to_have_attribute("data-state", "online")
    expect(agent.locator("#con-mine-count")).to_have_text("0")
    expect(agent.locator("#con-mine .status-bot")).to_have_count(0)
    assert Conversation.objects.get(pk=conversation.pk).status == "closed"
