"""Visitor context: the widget tells the page, title, referrer, language, time zone and the site's custom
attributes; the browser and system are read from the User-Agent. Bounded as a whole (a refusal stores
nothing), kept on the widget session, updated page by page, shown to staff who may see the conversation."""

from __future__ import annotations

import json

import pytest

from imsubsystem.models import WidgetSession
from imsubsystem.visitor import (
    MAX_ATTRIBUTES,
    PAGES_KEPT,
    user_agent_parse,
    visitor_context_check,
    visitor_context_of_conversation,
)

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = "https://shop.example"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
CONTEXT = {
    "url": "https://shop.example/cart?item=7",
    "title": "Your cart · Northwind",
    "referrer": "https://search.example/?q=boots",
    "language": "fr-FR",
    "timezone": "Europe/Paris",
    "custom_attributes": {"plan": "gold", "cart_value": 189.5, "orders": 3, "vip": True, "coupon": None},
}


def _session(client, **body):
    return client.post(
        "/api/v1/widget/shop/sessions",
        json.dumps(body),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_USER_AGENT=CHROME_WINDOWS,
    )


def _context(client, token, body, user_agent=CHROME_WINDOWS):
    return client.post(
        "/api/v1/widget/context",
        json.dumps(body),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_USER_AGENT=user_agent,
    )


def test_a_new_session_stores_the_visitors_context_with_browser_and_system(client, inbox):
    response = _session(client, name="Vera", context=CONTEXT)
    assert response.status_code == 201, response.content
    assert response.json()["verified"] is False
    session = WidgetSession.objects.get()
    context = session.context
    assert context["url"] == CONTEXT["url"] and context["title"] == CONTEXT["title"]
    assert context["referrer"] == CONTEXT["referrer"]
    assert (context["language"], context["timezone"]) == ("fr-FR", "Europe/Paris")
    assert (context["browser"], context["os"]) == ("Chrome 120", "Windows 10/11")
    assert context["custom_attributes"] == CONTEXT["custom_attributes"]
    assert [p["url"] for p in context["pages"]] == [CONTEXT["url"]]
    assert session.context_updated_at is not None


def test_moving_to_another_page_updates_the_context_and_keeps_a_short_history(client, inbox):
    token = _session(client, context=CONTEXT).json()["session_token"]
    answer = _context(client, token, {"url": "https://shop.example/checkout", "title": "Checkout"})
    assert answer.status_code == 200, answer.content
    shown = answer.json()["context"]
    assert shown["url"] == "https://shop.example/checkout" and shown["title"] == "Checkout"
    assert shown["custom_attributes"] == CONTEXT["custom_attributes"]  # not sent: kept
    assert [p["title"] for p in shown["pages"]] == ["Checkout", CONTEXT["title"]]
    # A reload of the same page is not a new entry; the history is bounded.
    _context(client, token, {"url": "https://shop.example/checkout", "title": "Checkout"})
    for n in range(PAGES_KEPT + 3):
        assert _context(client, token, {"url": f"https://shop.example/p/{n}", "title": f"P{n}"}).status_code == 200
    pages = WidgetSession.objects.get().context["pages"]
    assert len(pages) == PAGES_KEPT and pages[0]["title"] == f"P{PAGES_KEPT + 2}"
    # New custom attributes replace the old ones.
    _context(client, token, {"custom_attributes": {"plan": "silver"}})
    assert WidgetSession.objects.get().context["custom_attributes"] == {"plan": "silver"}


@pytest.mark.parametrize(
    "context",
    [
        "not an object",
        ["a", "list"],
        {"url": "javascript:alert(1)"},
        {"url": "https://shop.example/" + "a" * 2100},
        {"title": 7},
        {"title": "x" * 301},
        {"title": "bell\x07"},
        {"language": "not a tag!"},
        {"timezone": "../../etc/passwd"},
        {"surprise": "unknown field"},
        {"custom_attributes": "plan=gold"},
        {"custom_attributes": {f"k{n}": n for n in range(MAX_ATTRIBUTES + 1)}},
        {"custom_attributes": {"nested": {"a": 1}}},
        {"custom_attributes": {"list": [1, 2]}},
        {"custom_attributes": {"long": "x" * 257}},
        {"custom_attributes": {"k" * 65: "key too long"}},
        {"custom_attributes": {"": "empty key"}},
        {"custom_attributes": {"big": 2**60}},
        {"custom_attributes": {f"key{n:02d}": "v" * 250 for n in range(20)}},  # over 4 KB as a whole
    ],
)
def test_a_malformed_or_oversized_context_is_refused_whole_and_changes_nothing(client, inbox, context):
    refused = _session(client, context=context)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid"
    assert not WidgetSession.objects.exists()

    token = _session(client, context=CONTEXT).json()["session_token"]
    before = WidgetSession.objects.get().context
    refused = _context(client, token, context)
    # A body that is not a JSON object is the HTTP API's bad_json, as everywhere.
    code = "invalid" if isinstance(context, dict) else "bad_json"
    assert refused.status_code == 400 and refused.json()["error"]["code"] == code
    assert WidgetSession.objects.get().context == before


def test_context_updates_need_the_session_token_and_are_rate_limited(client, inbox, settings):
    assert _context(client, "x" * 40, CONTEXT).status_code == 401
    token = _session(client).json()["session_token"]
    codes = [_context(client, token, {"url": f"https://shop.example/{n}"}).status_code for n in range(32)]
    assert codes[:30] == [200] * 30 and codes[-1] == 429


@pytest.mark.parametrize(
    ("user_agent", "browser", "system"),
    [
        (CHROME_WINDOWS, "Chrome 120", "Windows 10/11"),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1 Safari/605.1.15",
            "Safari 17",
            "macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari 17",
            "iOS 17",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox 121", "Linux"),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
            "Mobile Safari/537.36",
            "Chrome 120",
            "Android 14",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
            "Safari/537.36 Edg/120.0.2210.91",
            "Edge 120",
            "Windows 10/11",
        ),
        ("curl/8.5.0", "", ""),
        ("", "", ""),
        ("Mozilla/5.0 (" + "Windows NT " * 5000, "", ""),
    ],
)
def test_the_user_agent_parser_names_browser_and_system(user_agent, browser, system):
    assert user_agent_parse(user_agent) == {"browser": browser, "os": system}


def test_the_check_keeps_only_what_was_sent():
    assert visitor_context_check({}) == {}
    assert visitor_context_check({"title": "  Home  ", "url": None}) == {"title": "Home", "url": ""}


def test_the_conversation_shows_the_context_of_the_visitors_latest_session(client, inbox):
    from imsubsystem import services

    token = _session(client, context=CONTEXT).json()["session_token"]
    session = WidgetSession.objects.get()
    message, _ = services.customer_message_send(
        inbox_id=inbox.pk, contact_id=session.contact_id, text="Hello", client_id="c1"
    )
    shown = visitor_context_of_conversation(conversation_id=message["conversation_id"])
    assert shown["url"] == CONTEXT["url"] and shown["browser"] == "Chrome 120"
    _context(client, token, {"url": "https://shop.example/help", "title": "Help"})
    assert visitor_context_of_conversation(conversation_id=message["conversation_id"])["title"] == "Help"
