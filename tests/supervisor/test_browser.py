"""Real Chromium on the live dashboard: a customer joins the queue and the open page's waiting count and
longest wait change without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from imsubsystem import services as switch
from imsubsystem.models import Conversation
from routing.models import RoutingPolicy
from tests.factories import ContactFactory
from tests.factories.crm import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_waiting_count_and_longest_wait_change_live(teams, live_server_url, new_context):
    sales = teams["sales"]
    # Manual pick: nobody is offered the conversation, so it stays waiting while we watch.
    sales.policy = RoutingPolicy.MANUAL
    sales.save()
    page = new_context().new_page()
    page.goto(f"{live_server_url}/accounts/login/?next=/supervisor/")
    page.fill("input[name=username]", "sup-a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/supervisor/")
    expect(page.locator("#sv-link")).to_have_attribute("data-state", "open")
    row = page.locator(f'#sv-queues tr[data-queue="{sales.pk}"]')
    expect(row.locator('[data-field="waiting"]')).to_have_text("0")
    expect(row.locator('[data-field="longest_wait"]')).to_have_text("0 s")
    expect(page.locator(f'#sv-queues tr[data-queue="{teams["support"].pk}"]')).to_have_count(0)
    page.evaluate("window.__notReloaded = true")

    conversation_id = switch.conversation_for_customer(inbox_id=teams["sales_inbox"].pk, contact_id=ContactFactory().pk)
    if Conversation.objects.get(pk=conversation_id).status == "bot":
        switch.conversation_queue(conversation_id=conversation_id)

    expect(row.locator('[data-field="waiting"]')).to_have_text("1", timeout=5000)
    # The longest wait counts up while the customer waits (a snapshot a second).
    expect(row.locator('[data-field="longest_wait"]')).to_have_text(re.compile(r"^[1-9][0-9]* s$"), timeout=6000)
    expect(page.locator(f'#sv-conversations tr[data-conversation="{conversation_id}"]')).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
