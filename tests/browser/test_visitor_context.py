"""Visitor context and identified visitors in real Chromium: the demo shop passes custom attributes (and, for
a logged-in customer, their id with its HMAC) to the widget; the agent console shows the visitor's page,
browser, system, language, time zone and the attributes, as text; a right HMAC shows the known contact as
"verified"; a wrong one is refused by the widget, which says so and links nothing."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from playwright.sync_api import expect

from crm.models import ChannelKind, Contact, ContactIdentity
from imsubsystem.models import Conversation, WidgetSession
from tests.browser.test_chat import XSS, customer_send, log_in_agent, open_widget, pick_from_queue, shop, watch_dialogs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["shop"]

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def visitor_browser(new_context, settings: dict):
    """A visitor's browser in Tokyo reading French, on a page that sets window.SwitchboardSettings before
    the widget's script tag (docs/interface.md, "Visitor context")."""
    context = new_context(locale="fr-FR", timezone_id="Asia/Tokyo", user_agent=WINDOWS_CHROME)
    context.add_init_script(f"window.SwitchboardSettings = {json.dumps(settings)};")
    return context


def test_the_console_shows_the_visitors_page_browser_and_custom_attributes(shop, live_server_url, new_context):
    attributes = {"plan": "gold", "cart_value": 189.5, "vip": True, "note": XSS}
    customer = open_widget(visitor_browser(new_context, {"customAttributes": attributes}), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    fired = watch_dialogs(agent)
    customer_send(customer, "Where is my parcel?")
    pick_from_queue(agent)

    visitor = agent.locator("#con-visitor")
    expect(visitor).to_be_visible()
    facts = agent.locator("#con-visitor-facts")
    expect(facts).to_contain_text(f"{live_server_url}/widget/demo/demo/")
    expect(facts).to_contain_text("Northwind Outfitters")
    expect(facts).to_contain_text("Chrome 120")
    expect(facts).to_contain_text("Windows 10/11")
    expect(facts).to_contain_text("fr-FR")
    expect(facts).to_contain_text("Asia/Tokyo")
    shown = agent.locator("#con-visitor-attributes")
    expect(shown).to_contain_text("gold")
    expect(shown).to_contain_text("189.5")
    expect(shown.locator("dd", has_text=XSS)).to_have_count(1)  # the site's text, shown as text
    assert agent.locator("#con-visitor img").count() == 0 and fired == []
    expect(agent.locator("#con-contact-verified")).to_be_hidden()

    # The site changes its attributes and the visitor moves on without a reload: the session follows.
    customer.evaluate(
        """() => { SwitchboardWidget.setCustomAttributes({plan: 'platinum'});
                   history.pushState({}, '', '/widget/demo/demo/?step=checkout'); }"""
    )
    session = WidgetSession.objects.get()

    def moved():
        session.refresh_from_db()
        return session.context.get("url", "").endswith("?step=checkout")

    customer.wait_for_timeout(200)
    for _ in range(50):
        if moved():
            break
        customer.wait_for_timeout(100)
    assert moved() and session.context["custom_attributes"] == {"plan": "platinum"}
    assert [p["url"].rsplit("/", 1)[-1] for p in session.context["pages"]][:2] == ["?step=checkout", ""]
    agent.reload()
    agent.locator("#con-mine .con-item").first.click()
    expect(agent.locator("#con-visitor-attributes")).to_contain_text("platinum")
    expect(agent.locator("#con-visitor-pages li")).to_have_count(2)


def sign(secret: str, identifier: str) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def test_an_identified_visitor_with_the_right_hmac_is_the_known_contact_marked_verified(
    shop, live_server_url, new_context
):
    inbox = shop["inbox"]
    known = Contact.objects.create(name="Alice Known", emails=["alice@example.org"])
    ContactIdentity.objects.create(contact=known, kind=ChannelKind.WEB, external_id=f"user:{inbox.pk}:alice-7")
    user = {"id": "alice-7", "hash": sign(inbox.identity_secret, "alice-7"), "name": "Someone Else"}
    customer = open_widget(visitor_browser(new_context, {"user": user}), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "It's Alice, logged in")
    pick_from_queue(agent)

    expect(agent.locator("#con-contact-name")).to_have_text("Alice Known")
    expect(agent.locator("#con-contact-verified")).to_be_visible()
    expect(agent.locator("#con-contact-identities")).to_contain_text("verified")
    assert Conversation.objects.get().contact_id == known.pk
    assert ContactIdentity.objects.get(contact=known).verified_at is not None

    # The CRM contact page says so too.
    agent.goto(f"{live_server_url}/crm/contacts/{known.pk}/")
    expect(agent.locator(".pagehead .chip.verified")).to_be_visible()


def test_a_wrong_hmac_is_refused_and_links_nothing(shop, live_server_url, new_context):
    inbox = shop["inbox"]
    known = Contact.objects.create(name="Alice Known")
    ContactIdentity.objects.create(contact=known, kind=ChannelKind.WEB, external_id=f"user:{inbox.pk}:alice-7")
    forged = {"id": "alice-7", "hash": sign("a guessed secret", "alice-7")}
    customer = open_widget(visitor_browser(new_context, {"user": forged}), live_server_url)
    customer_send(customer, "Let me see Alice's orders")

    status = customer.locator(".sbw-connection")
    expect(status).to_have_text("We could not confirm your account. Please sign in again.")
    customer.wait_for_timeout(1500)  # no anonymous fall-back, no retry loop
    expect(status).to_have_text("We could not confirm your account. Please sign in again.")
    assert not WidgetSession.objects.exists() and not Conversation.objects.exists()
    assert list(ContactIdentity.objects.values_list("external_id", flat=True)) == [f"user:{inbox.pk}:alice-7"]
    assert ContactIdentity.objects.get().verified_at is None


def test_out_of_bounds_custom_attributes_do_not_stop_the_chat(shop, live_server_url, new_context):
    context = visitor_browser(new_context, {"customAttributes": {"cart": {"items": [1, 2]}}})
    context.add_init_script(
        """window.__errors = []; const original = console.error;
           console.error = function () { window.__errors.push(Array.from(arguments).join(' '));
                                         return original.apply(console, arguments); };"""
    )
    customer = open_widget(context, live_server_url)
    customer_send(customer, "Hello despite the attributes")
    expect(customer.locator(".sbw-msg[data-seq]")).to_have_count(1, timeout=20000)
    session = WidgetSession.objects.get()
    assert "custom_attributes" not in session.context and session.context["timezone"] == "Asia/Tokyo"
    errors = customer.evaluate("window.__errors")
    assert any("custom attributes refused" in text and "JSON object" not in text for text in errors), errors
