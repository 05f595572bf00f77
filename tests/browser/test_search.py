"""The console's search box in Chromium: `/` focuses it, an English and a Chinese query show the
conversations with the words marked in their snippets (customer text as text, never markup), a past
conversation opens read-only and a live one in the thread, a contact links to its CRM page, a single
character is explained rather than searched, Esc clears."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm.roles import AGENT
from imsubsystem import services
from imsubsystem.models import Conversation, Label
from tests.browser.test_chat import log_in_agent
from tests.factories import ContactFactory, ConversationFactory, UserFactory
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _conversation(agent, contact, *texts, closed_days_ago=None):
    conversation = ConversationFactory(
        assignee=agent, contact=contact, status="assigned", assigned_at=timezone.now(), queue=agent.queue
    )
    for text in texts:
        services.message_send(conversation_id=conversation.pk, sender_kind="customer", text=text)
    if closed_days_ago is not None:
        closed_at = timezone.now() - timedelta(days=closed_days_ago)
        Conversation.objects.filter(pk=conversation.pk).update(
            status="closed", closed_at=closed_at, open_slot=None, last_message_at=closed_at
        )
    return conversation


@pytest.fixture
def searchable(transactional_db):
    queue = QueueFactory(name="Support")
    agent = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    AgentProfileFactory(user=agent, queues=[queue], status="available")
    agent.queue = queue
    other = UserFactory(username="agent2", role=AGENT)
    other.queue = queue
    live = _conversation(agent, ContactFactory(name="Wang Fang"), "Where is my refund? <img src=x onerror=alert(1)>")
    past = _conversation(agent, ContactFactory(name="李雷"), "我想申请退款，订单号12345", "谢谢", closed_days_ago=3)
    hidden = _conversation(other, ContactFactory(name="Not Yours"), "refund 退款 for someone else")
    past.labels.add(Label.objects.create(name="VIP", colour="#aa0000"))
    return {"live": live, "past": past, "hidden": hidden}


def test_english_and_chinese_searches_open_conversations(searchable, live_server_url, new_context):
    page = log_in_agent(new_context(), live_server_url)
    box = page.locator("#con-search-input")
    page.locator("body").press("/")
    expect(box).to_be_focused()

    box.fill("refund")
    results = page.locator("#con-search-results .con-search-conversations .con-search-item")
    expect(results).to_have_count(1)  # another agent's conversation is not found
    live = results.first
    expect(live).to_have_attribute("data-conversation-id", str(searchable["live"].pk))
    expect(live.locator("mark")).to_have_text("refund")
    expect(live.locator(".con-search-snippet")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator("#con-search-results img")).to_have_count(0)

    box.fill("退款")
    expect(results).to_have_count(1)
    past = results.first
    expect(past).to_have_attribute("data-conversation-id", str(searchable["past"].pk))
    expect(past.locator("mark")).to_have_text("退款")
    expect(past.locator(".con-search-readonly")).to_be_visible()
    expect(past.locator(".label-chip")).to_have_text("VIP")
    past.click()
    # Read-only in the console's one transcript dialog, at the message found.
    viewer = page.locator("#con-transcript")
    expect(viewer).to_be_visible()
    expect(viewer.locator("#con-transcript-meta")).to_contain_text("李雷")
    expect(viewer.locator(".thread-msg")).to_have_count(2)
    expect(viewer.locator("#con-transcript-meta .label-chip")).to_have_text("VIP")
    expect(viewer.locator(".thread-found .thread-text")).to_have_text("我想申请退款，订单号12345")
    expect(page.locator("#con-search-view")).to_have_count(0)
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_be_hidden()

    # A four-character Chinese word, and a contact found by the same search.
    box.fill("申请退款")
    expect(past.locator("mark")).to_have_text("申请退款")
    contact = page.locator("#con-search-results .con-search-contacts a")
    expect(contact).to_have_text("李雷")
    expect(contact).to_have_attribute("href", f"{live_server_url}/crm/contacts/{searchable['past'].contact_id}/")

    # A single character is explained, not searched.
    box.fill("退")
    expect(page.locator("#con-search-results .con-search-note")).to_contain_text("at least 2 characters")

    # The agent's own live conversation opens in the thread.
    box.fill("refund")
    expect(results).to_have_count(1)
    results.first.click()
    expect(page.locator("#con-chat-name")).to_have_text("Wang Fang")
    expect(page.locator("#con-messages .msg-text").first).to_contain_text("Where is my refund?")

    # Esc clears the box and brings the lists back.
    box.click()
    box.press("Escape")
    expect(box).to_have_value("")
    expect(page.locator("#con-search-results")).to_be_hidden()
    expect(page.locator("#con-mine")).to_be_visible()


def test_filters_are_built_from_the_servers_list(searchable, live_server_url, new_context):
    page = log_in_agent(new_context(), live_server_url)
    page.locator(".con-search-toggle").click()
    status = page.locator(".con-search-filters select[name=status]")
    expect(status).to_be_visible()
    for name in ("inbox", "queue", "agent"):
        expect(page.locator(f".con-search-filters select[name={name}]")).to_be_visible()
    expect(page.locator(".con-search-filters input[type=date]")).to_have_count(2)
    box = page.locator("#con-search-input")
    box.fill("refund")
    results = page.locator("#con-search-results .con-search-conversations .con-search-item")
    expect(results).to_have_count(1)
    status.select_option("closed")
    expect(results).to_have_count(0)
    expect(page.locator("#con-search-results")).to_contain_text("No conversation has these words.")
    status.select_option("")
    expect(results).to_have_count(1)
