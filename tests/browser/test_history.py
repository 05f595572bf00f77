"""Past conversations in real Chromium: opened read-only from the console's contact panel and from the CRM
contact record, shown as a thread with the messages, the agent's note, the file and the close with its
wrap-up; what the customer wrote stays text."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from crm.models import ChannelKind
from crm.roles import AGENT
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Inbox, Message
from routing.models import RoutingPolicy
from tests.factories import ContactFactory, UserFactory
from tests.factories.crm import PASSWORD
from tests.factories.media import AttachmentFactory
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def assigned_to(inbox, contact, agent, text: str, client_id: str) -> Conversation:
    payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text, client_id=client_id)
    conversation = Conversation.objects.get(pk=payload["conversation_id"])
    if conversation.status == "bot":
        switch.conversation_queue(conversation_id=conversation.pk)
    switch.conversation_transfer(conversation_id=conversation.pk, by_user_id=agent.pk, agent_id=agent.pk)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee_id) == ("assigned", agent.pk)
    return conversation


@pytest.fixture
def history(transactional_db):
    """Vera's past conversation with Alex (closed, with a note, a file and markup she typed), and her new
    one, which Alex holds now."""
    queue = QueueFactory(name="Support", policy=RoutingPolicy.MANUAL)
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queue)
    agent = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    AgentProfileFactory(user=agent, queues=[queue], status="available")
    vera = ContactFactory(name="Vera")
    past = assigned_to(inbox, vera, agent, "My parcel never came", "c-1")
    switch.customer_message_send(inbox_id=inbox.pk, contact_id=vera.pk, text=XSS, client_id="c-2")
    switch.message_send(
        conversation_id=past.pk, sender_kind="agent", sender_user_id=agent.pk, text="Sent a new one", client_id="a-1"
    )
    switch.message_send(
        conversation_id=past.pk,
        sender_kind="agent",
        sender_user_id=agent.pk,
        text="Carrier lost it twice",
        private=True,
        client_id="n-1",
    )
    receipt = AttachmentFactory(conversation_id=past.pk, original_name="receipt.txt")
    Message.objects.filter(conversation=past, client_id="c-1").update(attachments=[receipt.pk])
    switch.conversation_close(conversation_id=past.pk, by_user_id=agent.pk, wrap_up="Resent the parcel")
    # On another inbox: a message in the same one within the reopen window would reopen the past one.
    other = Inbox.objects.create(kind=ChannelKind.WEB, key="demo-2", name="Outlet shop", default_queue=queue)
    current = assigned_to(other, vera, agent, "Hello again", "c-3")
    assert current.pk != past.pk
    return {"agent": agent, "vera": vera, "past": past, "current": current}


def watch_dialogs(page: Page) -> list[str]:
    fired: list[str] = []

    def on_dialog(dialog):
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def log_in(context, base_url: str, next_path: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", "agent1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")
    return page


def expect_the_past_thread(thread) -> None:
    messages = thread.locator(".thread-msg")
    expect(messages.locator(".thread-text")).to_have_text(
        ["My parcel never came", XSS, "Sent a new one", "Carrier lost it twice"]
    )
    expect(messages.nth(0)).to_have_class("thread-msg thread-in thread-from-customer")
    expect(messages.nth(2)).to_have_class("thread-msg thread-out thread-from-agent")
    expect(messages.nth(3)).to_have_class("thread-msg thread-out thread-from-agent thread-note")
    expect(messages.nth(0).locator(".thread-files a")).to_contain_text("receipt.txt")
    expect(thread.locator(".thread-event-assigned")).to_contain_text("Alex")
    expect(thread.locator(".thread-event-closed")).to_contain_text("Resent the parcel")
    expect(thread.locator(".thread-day")).to_have_count(1)
    assert thread.locator("img").count() == 0  # the customer's markup is text, not an image


def test_a_past_conversation_opens_from_the_consoles_contact_panel(history, live_server_url, new_context):
    agent = log_in(new_context(), live_server_url, "/agent/")
    dialogs = watch_dialogs(agent)
    expect(agent.locator("#con-link")).to_have_attribute("data-state", "online")
    agent.locator(f'#con-mine .con-item[data-conversation-id="{history["current"].pk}"]').click()
    past_row = agent.locator(f'#con-contact-history li[data-conversation-id="{history["past"].pk}"]')
    expect(past_row).to_be_visible()
    expect(agent.locator("#con-contact-history li")).to_have_count(2)

    past_row.click()
    dialog = agent.locator("#con-transcript")
    expect(dialog).to_be_visible()
    expect(agent.locator("#con-transcript-title")).to_have_text(f"Conversation #{history['past'].pk}")
    expect(agent.locator("#con-transcript-meta")).to_contain_text("Vera")
    expect_the_past_thread(dialog.locator(".thread"))
    expect(agent.locator("#con-transcript-page")).to_have_attribute(
        "href", f"{live_server_url}/conversations/{history['past'].pk}/"
    )
    screenshot(agent, "history-console.png")
    # Read-only: nothing to type into, and the chat behind still shows the current conversation.
    assert dialog.locator("textarea, input").count() == 0
    dialog.locator("button.primary").click()
    expect(dialog).to_be_hidden()
    expect(agent.locator("#con-messages .msg-text").first).to_have_text("Hello again")

    # The keyboard opens it too.
    past_row.focus()
    past_row.press("Enter")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".thread .thread-msg")).to_have_count(4)
    assert dialogs == []


def test_a_past_conversation_opens_from_the_crm_contact_page(history, live_server_url, new_context):
    path = f"/crm/contacts/{history['vera'].pk}/"
    page = log_in(new_context(), live_server_url, path)
    dialogs = watch_dialogs(page)
    link = page.locator(f'a.conversation-open[href="/conversations/{history["past"].pk}/"]')
    expect(link).to_have_text(f"#{history['past'].pk}")
    link.click()
    page.wait_for_url(f"{live_server_url}/conversations/{history['past'].pk}/")
    expect(page.locator("h1")).to_have_text(f"Conversation #{history['past'].pk}")
    expect_the_past_thread(page.locator(".thread"))
    # The contact's name leads back to the record.
    expect(page.locator(f'.thread-meta a[href="{path}"]')).to_have_text("Vera")
    screenshot(page, "history-page.png")
    assert dialogs == []
