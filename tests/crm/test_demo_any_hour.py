"""The demo is true at any hour: seeded and tried on a Saturday night, the main demo inbox reaches a
person, the out-of-hours inbox shows the out-of-hours path, the demo supervisor watches the demo teams,
and `describe_urls` (what `make run` prints) lists every demo secret and webhook URL.

The whole story runs at Saturday 2030-03-16 22:30 UTC (django.utils.timezone.now), through the real
switch, bots (Celery eager) and routing on Redis.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from crm.models import Contact
from imsubsystem import selectors as switch_selectors
from imsubsystem import services as switch
from imsubsystem.demo import AFTER_HOURS_KEY, DEMO_INBOXES
from imsubsystem.models import Conversation, Inbox

pytestmark = pytest.mark.django_db(transaction=True)

SATURDAY_NIGHT = datetime(2030, 3, 16, 22, 30, tzinfo=UTC)


@pytest.fixture
def saturday(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: SATURDAY_NIGHT)
    call_command("seed_demo", "--force", stdout=io.StringIO())


def write(inbox_key: str, contact: Contact, text: str) -> int:
    inbox = Inbox.objects.get(key=inbox_key)
    payload, _ = switch.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text)
    return payload["conversation_id"]


def bot_texts(conversation_id: int) -> list[str]:
    return [
        m["text"]
        for m in switch_selectors.messages_after(conversation_id=conversation_id, include_private=False)
        if m["sender"]["kind"] == "bot"
    ]


def test_the_main_demo_inbox_is_open_on_a_saturday_night(saturday):
    contact = Contact.objects.create(name="Weekend Visitor", language="en")
    conversation_id = write("demo", contact, "Hello")
    assert not any("closed" in text for text in bot_texts(conversation_id))
    assert any("Who would you like to talk to?" in text for text in bot_texts(conversation_id))
    write("demo", contact, "Support")
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status in ("queued", "offered")  # handed to a person, not "leave a message"
    assert conversation.queue.name == "Support"
    assert not any("leave a message" in text.lower() for text in bot_texts(conversation_id))


def test_the_out_of_hours_inbox_shows_the_out_of_hours_path(saturday):
    contact = Contact.objects.create(name="Night Owl", language="en")
    conversation_id = write(AFTER_HOURS_KEY, contact, "Hello")
    texts = bot_texts(conversation_id)
    assert any(text.startswith("We are closed right now") for text in texts), texts
    assert any("You can leave a message" in text for text in texts), texts
    assert Conversation.objects.get(pk=conversation_id).status == "bot"
    write(AFTER_HOURS_KEY, contact, "Please call me back about my order.")
    conversation = Conversation.objects.get(pk=conversation_id)
    # The message left waits for the team, first in line (the flow's after-hours priority).
    assert (conversation.status, conversation.priority) == ("queued", 10)
    assert any("first in line" in text for text in bot_texts(conversation_id))


def test_the_demo_supervisor_watches_the_demo_teams(saturday):
    client = Client()
    # django-axes (the log-in lockout) needs the request in authenticate (docs/development.md).
    assert client.login(request=HttpRequest(), username="supervisor", password="switchboard-demo")
    snapshot = client.get("/supervisor/api/snapshot").json()
    assert {q["name"] for q in snapshot["queues"]} == {"Sales", "Support"}
    assert len(snapshot["agents"]) == 3


def test_describe_urls_prints_every_demo_secret_and_webhook_url(saturday):
    out = io.StringIO()
    call_command("describe_urls", "--port", "8123", stdout=out)
    printed = out.getvalue()
    base = "http://127.0.0.1:8123"
    for key, kind, _name, _config, credentials in DEMO_INBOXES:
        if kind == "web":
            assert f"{base}/widget/demo/{key}/" in printed
            continue
        segment = "twilio" if kind == "sms" else kind
        assert f"{base}/gateway/{segment}/{key}/" in printed
        for field, value in credentials.items():
            assert f"{field}" in printed and str(value) in printed, (key, field)
    assert "switchboard-demo-secret" in printed and "switchboard-demo-verify" in printed
    assert "supervisor (Supervisor)" in printed and "password switchboard-demo" in printed

    # A demo inbox whose secrets an admin replaced: its webhook URL still, its secrets no more.
    telegram = Inbox.objects.get(key="demo-telegram")
    telegram.credentials = {"bot_token": "123:real", "secret_token": "a-real-secret"}
    telegram.save()
    out = io.StringIO()
    call_command("describe_urls", stdout=out)
    assert "/gateway/telegram/demo-telegram/" in out.getvalue()
    assert "a-real-secret" not in out.getvalue() and "secrets changed in the admin" in out.getvalue()


@pytest.mark.django_db(transaction=False)
def test_the_readme_lists_every_demo_secret_and_webhook_url():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for key, kind, _name, _config, credentials in DEMO_INBOXES:
        if kind == "web":
            assert f"/widget/demo/{key}/" in readme
            continue
        segment = "twilio" if kind == "sms" else kind
        assert f"/gateway/{segment}/{key}/" in readme
        for field, value in credentials.items():
            assert f"`{field}` `{value}`" in readme, (key, field)
