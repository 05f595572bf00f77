"""The supervisor's read-only transcript page in real Chromium: a chat thread (the customer on the left,
agents on the right, notes marked, the conversation's events centred, a line for the day) that shows each
message once, as text with its sender and time; no raw Python dicts (client ids, note texts) above it."""

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


def test_the_transcript_shows_the_thread_and_nothing_raw(teams, live_server_url, new_context):
    teams["sales"].policy = RoutingPolicy.MANUAL
    teams["sales"].save()
    contact = ContactFactory(name="Vera")
    payload, _ = switch.customer_message_send(
        inbox_id=teams["sales_inbox"].pk, contact_id=contact.pk, text="Where is <b>my</b> parcel?", client_id="cid-1"
    )
    conversation_id = payload["conversation_id"]
    if Conversation.objects.get(pk=conversation_id).status == "bot":
        switch.conversation_queue(conversation_id=conversation_id)
    switch.message_send(
        conversation_id=conversation_id,
        sender_kind="agent",
        sender_user_id=teams["ag_a"].pk,
        text="VIP customer, be quick",
        private=True,
        client_id="note-1",
    )

    page = new_context().new_page()
    page.goto(f"{live_server_url}/accounts/login/?next=/supervisor/conversations/{conversation_id}/")
    page.fill("input[name=username]", "sup-a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/supervisor/conversations/{conversation_id}/")

    rows = page.locator(".thread .thread-msg")
    expect(rows).to_have_count(2)
    expect(rows.locator(".thread-text")).to_have_text(["Where is <b>my</b> parcel?", "VIP customer, be quick"])
    expect(rows.nth(0).locator(".thread-sender")).to_have_text("Vera")
    expect(rows.nth(0)).to_have_class("thread-msg thread-in thread-from-customer")
    expect(rows.nth(1)).to_have_class("thread-msg thread-out thread-from-agent thread-note")
    expect(rows.nth(1).locator(".thread-note-tag")).to_have_text("internal note")
    # The customer's bubble sits left of the agent's.
    customer_box = rows.nth(0).locator(".thread-bubble").bounding_box()
    agent_box = rows.nth(1).locator(".thread-bubble").bounding_box()
    assert customer_box["x"] < agent_box["x"]
    # Events centred (opened, queued), one day line first, times as clock times in the browser's zone.
    expect(page.locator(".thread .thread-event-opened")).to_have_count(1)
    expect(page.locator(".thread .thread-event-queued")).to_have_count(1)
    expect(page.locator(".thread > li").first).to_have_class("thread-day")
    expect(page.locator(".thread .thread-day")).to_have_count(1)
    expect(rows.nth(0).locator("time.thread-time")).to_have_text(re.compile(r"^\d{1,2}:\d{2}"))
    assert page.locator(".thread img").count() == 0  # the customer's markup stayed text
    body = page.locator("body").inner_text()
    for raw in ("{'", "client_id", "cid-1", "note-1", "'sender'"):
        assert raw not in body, raw
    # The note text appears once: in the thread, not in a flash list above it.
    assert body.count("VIP customer, be quick") == 1
    expect(page.locator(".flash")).to_have_count(0)
