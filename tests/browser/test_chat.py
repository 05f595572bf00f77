"""The customer writes in the widget on the demo shop page; an agent in another browser sees it live,
answers, and the customer sees the answer. Then the customer's network drops and comes back, the page is
reloaded, and markup is sent: the screens must match MySQL exactly and show text as text.
One module of about 410 lines: the steps share one live server, two browsers and their helpers."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from crm.models import ChannelKind
from crm.roles import AGENT
from imsubsystem.models import Conversation, Inbox, Message
from routing.models import RoutingPolicy
from tests.factories import UserFactory
from tests.factories.crm import PASSWORD
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def shop(transactional_db):
    # A manual-pick queue: no offers, so the agent takes the conversation from the queue view.
    queue = QueueFactory(name="Support", policy=RoutingPolicy.MANUAL)
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queue)
    agent = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    AgentProfileFactory(user=agent, queues=[queue], status="available")
    return {"queue": queue, "inbox": inbox, "agent": agent}


def watch_dialogs(page: Page) -> list[str]:
    fired: list[str] = []

    def on_dialog(dialog):
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def open_widget(context, base_url: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/widget/demo/demo/")
    page.locator(".sbw-launcher").click()
    expect(page.locator(".sbw-panel")).to_be_visible()
    return page


def customer_send(page: Page, text: str) -> None:
    box = page.locator(".sbw-input")
    box.fill(text)
    box.press("Enter")


def log_in_agent(context, base_url: str, username: str = "agent1") -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next=/agent/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/agent/")
    expect(page.locator("#con-link")).to_have_attribute("data-state", "online")
    return page


def agent_send(page: Page, text: str) -> None:
    box = page.locator("#con-input")
    box.fill(text)
    box.press("Control+Enter")


def widget_rows(page: Page) -> list[tuple[int, str]]:
    return page.evaluate(
        """() => Array.from(document.querySelector('[data-switchboard-widget]').shadowRoot
              .querySelectorAll('.sbw-msg[data-seq]'))
              .map(r => [Number(r.dataset.seq), r.querySelector('.sbw-text').textContent])"""
    )


def console_rows(page: Page) -> list[tuple[int, str]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#con-messages .msg[data-seq]'))
              .map(r => [Number(r.dataset.seq), r.querySelector('.msg-text').textContent])"""
    )


def stored(conversation: Conversation, *, include_private: bool) -> list[tuple[int, str]]:
    messages = Message.objects.filter(conversation=conversation).order_by("seq")
    if not include_private:
        messages = messages.filter(private=False)
    return [[m.seq, m.text] for m in messages]


def pick_from_queue(agent: Page) -> None:
    agent.locator("[data-tab=queue]").click()
    item = agent.locator("#con-queue .queue-item").first
    expect(item).to_be_visible()
    item.locator("button.pick").click()
    expect(agent.locator("#con-chat-inner")).to_be_visible()


def test_customer_and_agent_chat_live_through_a_network_drop_and_a_reload(shop, live_server_url, new_context):
    customer = open_widget(new_context(), live_server_url)
    customer_dialogs = watch_dialogs(customer)
    agent = log_in_agent(new_context(), live_server_url)
    agent_dialogs = watch_dialogs(agent)

    customer_send(customer, "Hello, where is my order 1234?")
    expect(customer.locator(".sbw-msg[data-seq='1']")).to_have_attribute("data-state", "sent")
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert conversation.status == "queued"
    expect(customer.locator(".sbw-banner")).to_be_visible()

    # Routing is manual for this queue: the agent takes it from the queue view, live, no reload.
    pick_from_queue(agent)
    expect(agent.locator("#con-messages .msg.from-customer .msg-text")).to_have_text(["Hello, where is my order 1234?"])
    expect(customer.locator(".sbw-banner")).to_contain_text("Alex")

    agent_send(agent, "Hi! Let me check that for you.")
    expect(customer.locator(".sbw-from-agent .sbw-text")).to_have_text(["Hi! Let me check that for you."])
    expect(agent.locator("#con-messages .msg[data-state=sending]")).to_have_count(0)

    # An internal note: agents see it, the customer never does.
    agent.locator("#con-private").check()
    agent_send(agent, "Carrier says Tuesday")
    expect(agent.locator("#con-messages .msg.private .msg-text")).to_have_text(["Carrier says Tuesday"])
    agent.locator("#con-private").uncheck()

    # The customer's network drops; meanwhile the agent writes twice and the customer once.
    customer.context.set_offline(True)
    expect(customer.locator(".sbw-connection")).to_be_visible()
    agent_send(agent, "It left the warehouse yesterday.")
    agent_send(agent, "It should arrive on Tuesday.")
    expect(agent.locator("#con-messages .msg[data-seq]")).to_have_count(5)
    customer_send(customer, "Thanks, written while offline")
    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(1)
    customer.context.set_offline(False)

    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(0, timeout=20000)
    expect(customer.locator(".sbw-connection")).to_be_hidden()
    expect(agent.locator("#con-messages .msg.from-customer")).to_have_count(2)
    public = stored(conversation, include_private=False)
    assert [text for _, text in public] == [
        "Hello, where is my order 1234?",
        "Hi! Let me check that for you.",
        "It left the warehouse yesterday.",
        "It should arrive on Tuesday.",
        "Thanks, written while offline",
    ]
    assert widget_rows(customer) == public
    assert console_rows(agent) == stored(conversation, include_private=True)

    # Markup from the customer is text on both screens, and nothing runs.
    customer_send(customer, XSS)
    expect(agent.locator("#con-messages .msg.from-customer .msg-text").last).to_have_text(XSS)
    expect(customer.locator(".sbw-msg.sbw-from-customer .sbw-text").last).to_have_text(XSS)
    assert agent.locator("#con-messages img").count() == 0
    widget_images = (
        "() => document.querySelector('[data-switchboard-widget]').shadowRoot.querySelectorAll('img').length"
    )
    assert customer.evaluate(widget_images) == 0
    expect(agent.locator("#con-mine .con-item-preview").first).to_contain_text(XSS)

    # A reload keeps the session and shows the same conversation once, then carries on live.
    customer.reload()
    expect(customer.locator(".sbw-panel")).to_be_visible()
    expect(customer.locator(".sbw-msg[data-seq]")).to_have_count(6)
    agent_send(agent, "Anything else?")
    expect(customer.locator(".sbw-from-agent .sbw-text").last).to_have_text("Anything else?")
    assert widget_rows(customer) == stored(conversation, include_private=False)
    assert console_rows(agent) == stored(conversation, include_private=True)
    assert Message.objects.filter(conversation=conversation).count() == 8

    customer.wait_for_timeout(300)
    assert customer_dialogs == [] and agent_dialogs == []


def test_agent_console_reconnects_and_fills_what_it_missed(shop, live_server_url, new_context):
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "First question")
    pick_from_queue(agent)
    expect(agent.locator("#con-messages .msg.from-customer")).to_have_count(1)
    conversation = Conversation.objects.get(inbox=shop["inbox"])

    agent.context.set_offline(True)
    expect(agent.locator("#con-link")).to_have_attribute("data-state", "offline")
    customer_send(customer, "Second question")
    customer_send(customer, "Third question")
    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(0)
    agent.context.set_offline(False)

    expect(agent.locator("#con-link")).to_have_attribute("data-state", "online", timeout=20000)
    expect(agent.locator("#con-messages .msg.from-customer")).to_have_count(3)
    assert console_rows(agent) == stored(conversation, include_private=True)


def test_console_shortcuts_help_canned_picker_and_close_with_wrap_up(shop, live_server_url, new_context):
    from imsubsystem.models import CannedResponse

    CannedResponse.objects.create(shortcut="thanks", title="Thanks", text="Thank you {{contact.name}}!")
    CannedResponse.objects.create(shortcut="hours", title="Opening hours", text="We are open 9 to 17.")
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "When are you open?")
    pick_from_queue(agent)

    agent.evaluate("document.activeElement.blur()")
    agent.keyboard.press("?")
    expect(agent.locator("#con-help")).to_be_visible()
    expect(agent.locator("#con-help")).to_contain_text("Alt")
    agent.keyboard.press("Escape")
    expect(agent.locator("#con-help")).to_be_hidden()

    box = agent.locator("#con-input")
    box.fill("")
    box.type("/ho")
    expect(agent.locator("#con-picker .picker-item")).to_have_count(1)
    box.press("Enter")
    expect(box).to_have_value("We are open 9 to 17.")
    box.press("Enter")
    expect(customer.locator(".sbw-from-agent .sbw-text")).to_have_text(["We are open 9 to 17."])

    box.type("/th")
    box.press("Escape")
    expect(agent.locator("#con-picker")).to_be_hidden()
    box.fill("")

    agent.keyboard.press("Alt+W")
    expect(agent.locator("#con-close")).to_be_visible()
    agent.fill("#con-close-note", "Told them our opening hours")
    agent.locator("#con-close button[value=ok]").click()
    expect(agent.locator("#con-chat-status")).to_have_text("closed")
    expect(customer.locator(".sbw-banner")).to_contain_text("closed")
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert conversation.status == "closed"
    assert conversation.wrap_up == "Told them our opening hours"


def test_console_contact_panel_edits_the_crm_record(shop, live_server_url, new_context):
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "Please update my e-mail")
    pick_from_queue(agent)
    form = agent.locator("#con-contact-form")
    expect(agent.locator("#con-contact-body")).to_be_visible()
    expect(agent.locator("#con-contact-identities")).to_contain_text("Web widget")
    form.locator("input[name=name]").fill("Dana Scully")
    form.locator("input[name=emails]").fill("dana@example.org, dana@fbi.example")
    form.locator("button[type=submit]").click()
    expect(agent.locator("#con-contact-saved")).to_have_text("Saved")
    expect(agent.locator("#con-chat-name")).to_have_text("Dana Scully")
    contact = Conversation.objects.get(inbox=shop["inbox"]).contact
    contact.refresh_from_db()
    assert contact.name == "Dana Scully"
    assert contact.emails == ["dana@example.org", "dana@fbi.example"]

    agent.locator("#con-note-form textarea").fill("Asked to change e-mail")
    agent.locator("#con-note-form button").click()
    expect(agent.locator("#con-contact-notes li .note-body")).to_have_text(["Asked to change e-mail"])
    assert re.search("Asked", contact.notes.get().body)


def test_an_offer_counts_down_and_alt_a_accepts_it(shop, live_server_url, new_context):
    queue = shop["queue"]
    queue.policy = RoutingPolicy.LEAST_BUSY
    queue.offer_timeout_s = 60
    queue.save()
    agent = log_in_agent(new_context(), live_server_url)
    agent.keyboard.press("Alt+1")
    expect(agent.locator("[data-presence=available]")).to_have_attribute("aria-checked", "true")
    customer = open_widget(new_context(), live_server_url)
    customer_send(customer, "I need help with a return")

    offer = agent.locator("#con-offers .offer")
    expect(offer).to_be_visible()
    expect(offer.locator(".offer-countdown")).to_have_text(re.compile(r"^\d+s$"))
    agent.evaluate("document.activeElement.blur()")
    agent.keyboard.press("Alt+A")
    expect(offer).to_have_count(0)
    expect(agent.locator("#con-messages .msg.from-customer .msg-text")).to_have_text(["I need help with a return"])
    expect(agent.locator("#con-mine .con-item")).to_have_count(1)
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert conversation.status == "assigned" and conversation.assignee_id == shop["agent"].pk


def test_customer_attaches_an_image_and_the_agent_sees_it_and_typing(shop, live_server_url, new_context, tmp_path):
    from PIL import Image

    image_path = tmp_path / "parcel.png"
    Image.new("RGB", (40, 30), (200, 80, 40)).save(image_path)
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "My parcel arrived damaged")
    pick_from_queue(agent)

    customer.locator(".sbw-input").press_sequentially("here is a photo")
    expect(agent.locator("#con-typing")).to_contain_text("is typing")

    customer.locator(".sbw-file").set_input_files(str(image_path))
    expect(customer.locator(".sbw-staged .sbw-chip")).to_contain_text("parcel.png")
    customer.locator(".sbw-input").press("Enter")
    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(0)
    expect(customer.locator(".sbw-msg[data-seq='2'] img.sbw-thumb")).to_be_visible()

    agent_image = agent.locator("#con-messages .msg[data-seq='2'] .msg-attachment img")
    expect(agent_image).to_be_visible()
    assert agent_image.evaluate("img => img.complete && img.naturalWidth") == 40
    message = Message.objects.get(conversation__inbox=shop["inbox"], seq=2)
    assert message.text == "here is a photo" and len(message.attachments) == 1


def test_transfer_to_another_agent_moves_the_conversation_out_of_my_list(shop, live_server_url, new_context):
    colleague = UserFactory(username="agent2", first_name="Sam", role=AGENT)
    AgentProfileFactory(user=colleague, queues=[shop["queue"]], status="available")
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "Can someone from billing help?")
    pick_from_queue(agent)
    expect(agent.locator("#con-mine .con-item")).to_have_count(1)
    expect(customer.locator(".sbw-banner")).to_contain_text("Alex")

    agent.keyboard.press("Alt+T")
    expect(agent.locator("#con-transfer")).to_be_visible()
    agent.select_option("#con-transfer-agent", label="Sam · Available")
    agent.locator("#con-transfer button[value=ok]").click()

    expect(agent.locator("#con-mine .con-item")).to_have_count(0)
    expect(customer.locator(".sbw-banner")).to_contain_text("Sam")
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert conversation.assignee_id == colleague.pk and conversation.status == "assigned"
    # The transfer leaves a private system note: the agents' history explains the move, the customer
    # never sees it.
    note = Message.objects.get(conversation=conversation, sender_kind="system")
    assert note.private and "Sam" in note.text
    assert [text for _, text in widget_rows(customer)] == ["Can someone from billing help?"]


def test_waiting_customers_see_their_queue_position(shop, live_server_url, new_context):
    first = open_widget(new_context(), live_server_url)
    customer_send(first, "First in line")
    # The position shows as soon as the customer is waiting (ready carries it), then follows every
    # change in the queue (conversation.status frames with queue {position, eta_s}).
    expect(first.locator(".sbw-banner")).to_have_text(re.compile(r"^You are number 1 in the queue"))
    second = open_widget(new_context(), live_server_url)
    customer_send(second, "Second in line")
    expect(second.locator(".sbw-banner")).to_have_text(re.compile(r"^You are number 2 in the queue"))
    expect(first.locator(".sbw-banner")).to_have_text(re.compile(r"^You are number 1 in the queue"))


def test_a_revoked_session_is_replaced_and_the_customer_can_still_write(shop, live_server_url, new_context):
    from imsubsystem.models import WidgetSession

    customer = open_widget(new_context(), live_server_url)
    customer_send(customer, "Hello from the old session")
    expect(customer.locator(".sbw-msg[data-seq='1']")).to_have_attribute("data-state", "sent")
    # The banner shows once the socket has moved to the new conversation and authenticated again.
    expect(customer.locator(".sbw-banner")).to_be_visible()
    old = WidgetSession.objects.get()
    WidgetSession.objects.filter(pk=old.pk).update(revoked_at=timezone.now())

    customer.reload()
    customer_send(customer, "Hello from a new session")
    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(0)
    new = WidgetSession.objects.exclude(pk=old.pk).get()
    assert new.contact_id != old.contact_id
    # The old visitor's history is not shown to whoever holds the new session.
    assert [text for _, text in widget_rows(customer)] == ["Hello from a new session"]
    assert Message.objects.filter(conversation__contact_id=new.contact_id).count() == 1


def test_a_frame_lost_on_the_fast_path_is_read_again_by_the_console(shop, live_server_url, new_context):
    """The channel layer loses one message.new on its way to the console (cut here in the browser):
    the next message shows the hole, and the console reads the missing one from MySQL instead of
    stepping over it."""
    customer = open_widget(new_context(), live_server_url)
    lost: list[str] = []

    def cut_one_frame(ws):
        server = ws.connect_to_server()

        def from_server(message):
            if isinstance(message, str) and "Lost on the way" in message and '"message.new"' in message and not lost:
                lost.append(message)
                return
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(lambda message: server.send(message))

    agent = new_context().new_page()
    agent.route_web_socket(re.compile(r".*/ws/v1/agent/.*"), cut_one_frame)
    agent.goto(f"{live_server_url}/accounts/login/?next=/agent/")
    agent.fill("input[name=username]", "agent1")
    agent.fill("input[name=password]", PASSWORD)
    agent.click("button[type=submit]")
    expect(agent.locator("#con-link")).to_have_attribute("data-state", "online")

    customer_send(customer, "First question")
    pick_from_queue(agent)
    expect(agent.locator("#con-messages .msg.from-customer")).to_have_count(1)
    customer_send(customer, "Lost on the way")
    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(0)
    customer_send(customer, "After the gap")
    expect(agent.locator("#con-messages .msg.from-customer")).to_have_count(3)
    assert lost, "the frame was cut on its way"
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert console_rows(agent) == stored(conversation, include_private=True)
