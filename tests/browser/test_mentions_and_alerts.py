"""Transfer with a note, @mentions and alerts in real Chromium against a real server.

Alex transfers a conversation to Sam with a note: Sam sees it above the thread, the customer never does.
Alex mentions Sam in an internal note, picked from the @ list with the keyboard: Sam's console counts the
mention, and clicking it opens the conversation read-only. With alerts on and the tab hidden, a mention
puts the unread count in the title and creates a browser notification.

Hidden tabs: headless Chromium keeps every page "visible", so the page is given, before it loads, a
`document.hidden` / `document.visibilityState` that follow `window.__hidden` (the test flips it and fires
`visibilitychange`, as the browser does), and a `window.Notification` stand-in that records each call
with permission "granted". The console reads only the standard names, so nothing in it is for tests.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm.models import ChannelKind
from crm.roles import AGENT
from imsubsystem.models import Conversation, Inbox, Message, Notification
from routing.models import RoutingPolicy
from tests.factories import UserFactory
from tests.factories.crm import PASSWORD
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKUP = "<img src=x onerror=alert(1)>"

HIDDEN_TAB_AND_NOTIFICATIONS = """
window.__hidden = false;
window.__notifications = [];
class RecordedNotification {
  constructor(title, options) { window.__notifications.push({ title: title, body: (options || {}).body }); }
  close() {}
}
RecordedNotification.permission = "granted";
RecordedNotification.requestPermission = function () { return Promise.resolve("granted"); };
window.Notification = RecordedNotification;
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true, get: function () { return window.__hidden; },
});
Object.defineProperty(Document.prototype, "visibilityState", {
  configurable: true, get: function () { return window.__hidden ? "hidden" : "visible"; },
});
"""


@pytest.fixture
def desk(transactional_db):
    queue = QueueFactory(name="Support", policy=RoutingPolicy.MANUAL)
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queue)
    alex = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    sam = UserFactory(username="agent2", first_name="Sam", role=AGENT)
    for user in (alex, sam):
        AgentProfileFactory(user=user, queues=[queue], status="available")
    return {"queue": queue, "inbox": inbox, "alex": alex, "sam": sam}


def log_in(context, base_url: str, username: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next=/agent/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/agent/")
    expect(page.locator("#con-link")).to_have_attribute("data-state", "online")
    return page


def customer_writes(context, base_url: str, text: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/widget/demo/demo/")
    page.locator(".sbw-launcher").click()
    box = page.locator(".sbw-input")
    box.fill(text)
    box.press("Enter")
    expect(page.locator(".sbw-msg[data-seq='1']")).to_have_attribute("data-state", "sent")
    return page


def pick_from_queue(agent: Page) -> None:
    agent.locator("[data-tab=queue]").click()
    item = agent.locator("#con-queue .queue-item").first
    expect(item).to_be_visible()
    item.locator("button.pick").click()
    expect(agent.locator("#con-chat-inner")).to_be_visible()


def mention_sam(alex: Page, rest: str) -> None:
    alex.locator("#con-private").check()
    box = alex.locator("#con-input")
    box.click()
    box.press_sequentially("@sa")
    picker = alex.locator("#con-mention-picker")
    expect(picker).to_be_visible()
    expect(picker.locator(".picker-item")).to_have_count(1)
    expect(picker.locator(".picker-item.active")).to_contain_text("@Sam")
    box.press("Enter")  # picks, does not send
    expect(picker).to_be_hidden()
    expect(box).to_have_value("@Sam ")
    box.press_sequentially(rest)
    box.press("Enter")


def test_a_transfer_note_reaches_the_receiving_agent_above_the_thread(desk, live_server_url, new_context):
    customer = customer_writes(new_context(), live_server_url, "My invoice is wrong")
    alex = log_in(new_context(), live_server_url, "agent1")
    sam = log_in(new_context(), live_server_url, "agent2")
    pick_from_queue(alex)

    alex.keyboard.press("Alt+T")
    expect(alex.locator("#con-transfer")).to_be_visible()
    alex.select_option("#con-transfer-agent", label="Sam · Available")
    note = f"Refund approved by billing {MARKUP}"
    alex.fill("#con-transfer-note", note)
    alex.locator("#con-transfer button[value=ok]").click()
    expect(alex.locator("#con-mine .con-item")).to_have_count(0)

    item = sam.locator("#con-mine .con-item")
    expect(item).to_have_count(1)
    item.click()
    banner = sam.locator("#con-transfer-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Alex")
    expect(banner.locator(".transfer-note-text")).to_have_text(note)
    assert sam.locator("#con-transfer-banner img").count() == 0  # text, not markup
    expect(sam.locator("#con-messages .msg.private .msg-text").last).to_have_text(note)

    conversation = Conversation.objects.get(inbox=desk["inbox"])
    assert conversation.assignee_id == desk["sam"].pk
    assert conversation.transfer_note.text == note and conversation.transfer_note.private
    expect(customer.locator(".sbw-msg")).to_have_count(1)
    assert note not in customer.content()


def test_a_mention_shows_in_the_colleagues_console_and_opens_the_conversation_read_only(
    desk, live_server_url, new_context
):
    customer_writes(new_context(), live_server_url, "Where is parcel 77?")
    alex = log_in(new_context(), live_server_url, "agent1")
    sam = log_in(new_context(), live_server_url, "agent2")
    pick_from_queue(alex)
    expect(sam.locator("#con-mentions-count")).to_have_text("0")

    mention_sam(alex, "can you check the depot?")
    expect(alex.locator("#con-messages .msg.private .msg-text").last).to_have_text("@Sam can you check the depot?")

    expect(sam.locator("#con-mentions-count")).to_have_text("1")
    sam.locator("#con-mentions-open").click()
    mention = sam.locator("#con-mentions .mention-item")
    expect(mention).to_have_count(1)
    expect(mention).to_contain_text("Alex mentioned you")
    expect(mention).to_contain_text("can you check the depot?")
    mention.click()

    expect(sam.locator("#con-chat-inner")).to_be_visible()
    expect(sam.locator("#con-view-only")).to_be_visible()
    expect(sam.locator("#con-messages .msg.from-customer .msg-text")).to_have_text(["Where is parcel 77?"])
    expect(sam.locator("#con-transfer-open")).to_be_disabled()
    expect(sam.locator("#con-close-open")).to_be_disabled()
    expect(sam.locator("#con-private")).to_be_checked()
    expect(sam.locator("#con-mine .con-item")).to_have_count(0)  # not his: no list names it
    expect(sam.locator("#con-mentions-count")).to_have_text("0")

    # Sam answers with a note; Alex sees it live.
    box = sam.locator("#con-input")
    box.fill("Found it, shipping today")
    box.press("Enter")
    expect(alex.locator("#con-messages .msg.private .msg-text").last).to_have_text("Found it, shipping today")

    conversation = Conversation.objects.get(inbox=desk["inbox"])
    assert conversation.assignee_id == desk["alex"].pk
    notification = Notification.objects.get(user=desk["sam"])
    assert notification.read_at is not None and notification.actor_id == desk["alex"].pk
    assert Message.objects.filter(conversation=conversation, private=False).count() == 1

    # A reload: nothing unread comes back.
    sam.reload()
    expect(sam.locator("#con-link")).to_have_attribute("data-state", "online")
    expect(sam.locator("#con-mentions-count")).to_have_text("0")


def test_a_hidden_tab_counts_unread_in_the_title_and_notifies(desk, live_server_url, new_context):
    customer_writes(new_context(), live_server_url, "Hello?")
    alex = log_in(new_context(), live_server_url, "agent1")
    sam_context = new_context()
    sam_context.add_init_script(HIDDEN_TAB_AND_NOTIFICATIONS)
    sam = log_in(sam_context, live_server_url, "agent2")
    pick_from_queue(alex)

    sam.locator("#con-alerts").check()
    assert sam.evaluate("localStorage.getItem('switchboard.console.alerts')") == "on"
    sam.evaluate("window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))")

    mention_sam(alex, "please look")
    expect(sam).to_have_title(re.compile(r"^\(1\) "))
    notifications = sam.evaluate("window.__notifications")
    assert notifications == [{"title": "Alex mentioned you", "body": "@Sam please look"}]

    # Opted out: the next mention still counts, but nothing pops up.
    sam.locator("#con-alerts").uncheck()
    mention_sam(alex, "again")
    expect(sam).to_have_title(re.compile(r"^\(2\) "))
    assert len(sam.evaluate("window.__notifications")) == 1
    sam.reload()
    expect(sam.locator("#con-alerts")).not_to_be_checked()
    expect(sam.locator("#con-mentions-count")).to_have_text("2")
    expect(sam).to_have_title(re.compile(r"^\(2\) "))


def test_a_transfer_to_a_queue_shows_the_note_on_the_next_agents_offer(desk, live_server_url, new_context):
    queue = desk["queue"]
    queue.policy = RoutingPolicy.LEAST_BUSY
    queue.offer_timeout_s = 60
    queue.save()
    alex = log_in(new_context(), live_server_url, "agent1")
    alex.keyboard.press("Alt+1")
    customer_writes(new_context(), live_server_url, "Can I change my order?")
    offer = alex.locator("#con-offers .offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".offer-note")).to_have_count(0)
    offer.locator("button.primary").click()
    expect(alex.locator("#con-mine .con-item")).to_have_count(1)

    sam = log_in(new_context(), live_server_url, "agent2")
    sam.keyboard.press("Alt+1")
    expect(sam.locator("[data-presence=available]")).to_have_attribute("aria-checked", "true")
    alex.locator("#con-mine .con-item").click()
    alex.keyboard.press("Alt+T")
    alex.select_option("#con-transfer-queue", label="Support")
    alex.fill("#con-transfer-note", f"Order 55, wants express {MARKUP}")
    alex.locator("#con-transfer button[value=ok]").click()

    offer = sam.locator("#con-offers .offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".offer-note")).to_contain_text("Alex")
    expect(offer.locator(".offer-note .transfer-note-text")).to_have_text(f"Order 55, wants express {MARKUP}")
    offer.locator("button.primary").click()
    expect(sam.locator("#con-transfer-banner .transfer-note-text")).to_have_text(f"Order 55, wants express {MARKUP}")
