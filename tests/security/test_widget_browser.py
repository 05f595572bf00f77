"""In Chromium: the widget open on a shop page when its session is revoked (as a contact merge does)
is told at once, forgets the old conversation, starts a new session, and the customer writes on."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from imsubsystem.models import Message, WidgetSession
from imsubsystem.services import widget_sessions_revoke
from tests.browser.conftest import browser, live_server_url, new_context  # noqa: F401 - reused fixtures
from tests.browser.test_chat import customer_send, open_widget, shop, widget_rows  # noqa: F401 - reused

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_open_widget_whose_session_is_revoked_starts_a_new_one(shop, live_server_url, new_context):
    customer = open_widget(new_context(), live_server_url)
    customer_send(customer, "Before the merge")
    expect(customer.locator(".sbw-msg[data-seq='1'] ")).to_have_attribute("data-state", "sent")
    old = WidgetSession.objects.get()

    widget_sessions_revoke(session_ids=[old.pk])

    # Without a reload: the socket is closed by the server, the widget opens a new session and drops
    # what the old one showed.
    expect(customer.locator(".sbw-msg[data-seq]")).to_have_count(0)
    expect(customer.locator(".sbw-input")).to_be_enabled()
    customer_send(customer, "After the merge")
    expect(customer.locator(".sbw-msg[data-seq='1'] ")).to_have_attribute("data-state", "sent")
    new = WidgetSession.objects.exclude(pk=old.pk).get()
    assert new.revoked_at is None and new.contact_id != old.contact_id
    assert [text for _, text in widget_rows(customer)] == ["After the merge"]
    assert Message.objects.filter(conversation__contact_id=new.contact_id).count() == 1


# Run before any of the page's scripts: the globals a bare page has.
GLOBALS_BEFORE = "window.__globalsBefore = Object.keys(window);"


def test_the_widget_adds_one_global_and_leaves_no_script_tag_behind(shop, live_server_url, new_context):
    context = new_context()
    context.add_init_script(GLOBALS_BEFORE)
    customer = open_widget(context, live_server_url)
    customer_send(customer, "Hello from a host page")
    expect(customer.locator(".sbw-msg[data-seq='1']")).to_have_attribute("data-state", "sent")

    added = customer.evaluate(
        "() => Object.keys(window).filter((key) => !window.__globalsBefore.includes(key) && key !== '__globalsBefore')"
    )
    assert added == ["SwitchboardWidget"]
    # The shared protocol client it loaded lives in that namespace; its script tag is gone again.
    assert customer.evaluate("typeof SwitchboardWidget.protocol.Connection") == "function"
    assert customer.evaluate("document.querySelectorAll('script').length") == 1
    assert customer.evaluate("typeof SwitchboardWidget.open") == "function"
