"""An admin sets up a Telegram inbox in real Chromium through the admin pages alone: the platform first,
then its fields; the change page hides the token and copies the webhook URL, under the site's CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm.roles import ADMIN
from imsubsystem.models import Inbox
from tests.browser.test_api_pages import log_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOT_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def test_an_admin_adds_a_telegram_inbox_and_copies_its_webhook_url(live_server_url, new_context):
    UserFactory(username="admin1", role=ADMIN)
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = log_in(context, live_server_url, "admin1", "/admin/imsubsystem/inbox/add/")
    page.get_by_role("link", name="Telegram", exact=True).click()
    expect(page.locator("input[name=bot_token]")).to_be_visible()
    expect(page.locator("textarea[name=config]")).to_have_count(0)

    page.fill("input[name=name]", "Shop bot")
    page.fill("input[name=key]", "tg-browser")
    page.fill("input[name=bot_token]", "not a token")
    page.click("input[name=_continue]")
    expect(page.locator(".field-bot_token .errorlist")).to_be_visible()
    assert page.locator("input[name=bot_token]").input_value() == ""  # what was typed is not sent back

    page.fill("input[name=bot_token]", BOT_TOKEN)
    page.click("input[name=_continue]")
    expect(page.locator("#platform-setup")).to_be_visible()
    inbox = Inbox.objects.get(key="tg-browser")
    assert inbox.kind == "telegram" and inbox.credentials["bot_token"] == BOT_TOKEN
    assert BOT_TOKEN not in page.content() and inbox.credentials["secret_token"] not in page.content()

    url = f"{live_server_url}/gateway/telegram/tg-browser/"
    expect(page.locator("#setup-webhook-url")).to_have_value(url)
    copy = page.locator("button.setup-copy[data-copy=setup-webhook-url]")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(page.locator("#setup-telegram-webhook")).to_be_visible()

    # WhatsApp's form shows the chosen provider's fields.
    page.goto(f"{live_server_url}/admin/imsubsystem/inbox/add/?kind=whatsapp")
    expect(page.locator("input[name=phone_number_id]")).to_be_visible()
    expect(page.locator("input[name=account_sid]")).to_be_hidden()
    page.select_option("select[name=provider]", "twilio")
    expect(page.locator("input[name=account_sid]")).to_be_visible()
    expect(page.locator("input[name=phone_number_id]")).to_be_hidden()
    assert page.problems == [], page.problems
