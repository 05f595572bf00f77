"""Labels, close reasons and snooze in real Chromium: an agent labels a conversation (coloured chips in
the list and the header, the name shown as text), filters the list by label, closes with a reason from
the admin's list; snoozes a conversation until the customer writes and sees it come back when the
customer writes in the widget; snoozes one until a short time and sees the timer bring it back."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from imsubsystem.models import CloseReason, Conversation, Label
from tests.browser.conftest import daphne_serving
from tests.browser.test_chat import customer_send, log_in_agent, open_widget, pick_from_queue, shop, watch_dialogs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["shop"]  # the fixture, shared with the chat tests

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def live_server_url(django_db_setup, django_db_blocker, tmp_path_factory):
    # The server runs its own timer loop (as the embedded default does), the snooze timer every half second.
    with daphne_serving(django_db_blocker, tmp_path_factory, INPROCESS_TIMERS="1", SNOOZE_WAKE_S="0.5") as (
        base_url,
        _,
    ):
        yield base_url


def _poll(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _open_conversation(shop, live_server_url, new_context, text: str) -> tuple[Page, Page, Conversation]:
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, text)
    expect(customer.locator(".sbw-msg[data-seq='1']")).to_have_attribute("data-state", "sent")
    pick_from_queue(agent)
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert _poll(lambda: Conversation.objects.get(pk=conversation.pk).status == "assigned")
    return customer, agent, conversation


def test_agent_labels_a_conversation_filters_by_label_and_closes_with_a_reason(shop, live_server_url, new_context):
    vip = Label.objects.create(name="VIP", colour="#aa0000")
    Label.objects.create(name=XSS, colour="#00aa00")
    CloseReason.objects.create(code="solved", name="Solved", position=1)
    CloseReason.objects.create(code="spam", name="Spam", position=2)
    _customer, agent, conversation = _open_conversation(shop, live_server_url, new_context, "Please tag me")
    dialogs = watch_dialogs(agent)

    agent.locator("#con-labels-open").click()
    choices = agent.locator("#con-labels-choices .con-label-choice")
    expect(choices).to_have_count(2)
    # The label named like markup is shown as text.
    expect(choices.filter(has_text=XSS)).to_have_count(1)
    choices.filter(has_text="VIP").locator("input").check()
    agent.locator("#con-labels-save").click()

    mine_chip = agent.locator("#con-mine .con-item .label-chip")
    expect(mine_chip).to_have_text(["VIP"])
    expect(mine_chip).to_have_css("background-color", "rgb(170, 0, 0)")
    expect(agent.locator("#con-chat-labels .label-chip")).to_have_text(["VIP"])
    assert _poll(lambda: list(Conversation.objects.get(pk=conversation.pk).labels.all()) == [vip])

    # The filter: another label hides it, its own label shows it again.
    other = Label.objects.get(colour="#00aa00")
    agent.select_option("#con-label-filter", str(other.pk))
    expect(agent.locator(f"#con-mine [data-conversation-id='{conversation.pk}']")).to_have_count(0)
    agent.select_option("#con-label-filter", str(vip.pk))
    expect(agent.locator(f"#con-mine [data-conversation-id='{conversation.pk}']")).to_have_count(1)
    agent.select_option("#con-label-filter", "")

    # Close with a reason from the list and a note.
    agent.locator("#con-close-open").click()
    agent.select_option("#con-close-reason", "solved")
    agent.locator("#con-close-note").fill("Answered the question")
    agent.locator("#con-close-form button[value=ok]").click()
    assert _poll(lambda: Conversation.objects.get(pk=conversation.pk).status == "closed")
    closed = Conversation.objects.select_related("close_reason").get(pk=conversation.pk)
    assert (closed.close_reason.code, closed.wrap_up) == ("solved", "Answered the question")
    assert dialogs == []


def test_snooze_until_the_customer_writes_and_until_a_short_time(shop, live_server_url, new_context):
    customer, agent, conversation = _open_conversation(shop, live_server_url, new_context, "I need to look it up")
    errors: list[str] = []
    agent.on("pageerror", lambda error: errors.append(str(error)))
    row = agent.locator(f"#con-mine [data-conversation-id='{conversation.pk}']")

    # Until the customer writes: it moves to the Snoozed section.
    agent.locator("#con-snooze-open").click()
    expect(agent.locator("#con-snooze-reply")).to_be_checked()
    agent.locator("#con-snooze-save").click()
    expect(row).to_have_class("con-item current snoozed")
    expect(agent.locator("#con-snoozed-section")).to_be_visible()
    expect(agent.locator("#con-mine-count")).to_have_text("0")
    expect(agent.locator("#con-snooze-open")).to_have_text("Wake")
    assert _poll(lambda: Conversation.objects.get(pk=conversation.pk).snoozed_at is not None)

    # The customer writes in the widget: it comes back, live.
    customer_send(customer, "Found my order number: 5678")
    expect(row).not_to_have_class("con-item current snoozed")
    expect(agent.locator("#con-snoozed-section")).to_have_count(0)
    expect(agent.locator("#con-mine-count")).to_have_text("1")
    expect(agent.locator("#con-notice")).to_contain_text("the customer wrote")
    assert Conversation.objects.get(pk=conversation.pk).snoozed_at is None

    # Until a short time: the timer brings it back.
    agent.locator("#con-snooze-open").click()
    agent.evaluate(
        """() => {
            const at = new Date(Date.now() + 3000);
            const two = (n) => String(n).padStart(2, "0");
            const input = document.getElementById("con-snooze-until");
            input.value = at.getFullYear() + "-" + two(at.getMonth() + 1) + "-" + two(at.getDate()) + "T" +
                two(at.getHours()) + ":" + two(at.getMinutes()) + ":" + two(at.getSeconds());
            input.dispatchEvent(new Event("input", {bubbles: true}));
        }"""
    )
    expect(agent.locator("#con-snooze-time")).to_be_checked()
    agent.locator("#con-snooze-save").click()
    expect(agent.locator("#con-snoozed-section")).to_be_visible()
    expect(row.locator(".con-item-snooze")).to_contain_text("Snoozed until")
    expect(agent.locator("#con-snoozed-section")).to_have_count(0, timeout=15000)
    expect(agent.locator("#con-notice")).to_contain_text("its snooze ended")
    woke = Conversation.objects.get(pk=conversation.pk)
    assert (woke.snoozed_at, woke.status, woke.assignee_id) == (None, "assigned", shop["agent"].pk)
    assert errors == []
