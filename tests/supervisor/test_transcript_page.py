"""The supervisor's read-only transcript page in real Chromium: the thread shows each message once, as
text with its sender and time, notes marked; no raw Python dicts (client ids, note texts) above it."""

from __future__ import annotations

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

    rows = page.locator(".sv-messages .sv-msg")
    expect(rows).to_have_count(2)
    expect(rows.locator(".sv-msg-text")).to_have_text(["Where is <b>my</b> parcel?", "VIP customer, be quick"])
    expect(rows.nth(0).locator(".sv-msg-head")).to_contain_text("Vera")
    expect(rows.nth(1)).to_have_class("sv-msg sv-msg-agent sv-msg-private")
    expect(rows.nth(1).locator(".sv-msg-head")).to_contain_text("internal note")
    body = page.locator("body").inner_text()
    for raw in ("{'", "client_id", "cid-1", "note-1", "'sender'"):
        assert raw not in body, raw
    # The note text appears once: in the thread, not in a flash list above it.
    assert body.count("VIP customer, be quick") == 1
    expect(page.locator(".flash")).to_have_count(0)
