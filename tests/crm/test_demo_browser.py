"""Real Chromium on the demo as `make run` seeds it, at whatever hour the suite runs: the demo supervisor's
dashboard shows the demo queues, the demo widget reaches the team's menu, and the out-of-hours widget
shows the out-of-hours path."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(transactional_db):
    call_command("seed_demo", "--force", stdout=io.StringIO())


def open_widget(context, base: str, inbox_key: str):
    page = context.new_page()
    page.goto(f"{base}/widget/demo/{inbox_key}/")
    page.locator(".sbw-launcher").click()
    expect(page.locator(".sbw-panel")).to_be_visible()
    box = page.locator(".sbw-input")
    box.fill("Hello")
    box.press("Enter")
    return page


def test_the_demo_at_any_hour(demo, live_server_url, new_context):
    page = new_context().new_page()
    page.goto(f"{live_server_url}/accounts/login/?next=/supervisor/")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", "switchboard-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/supervisor/")
    names = page.locator('#sv-queues tbody tr [data-field="name"]')
    expect(names).to_have_text(["Sales", "Support"])
    expect(page.locator("#sv-no-queues")).to_be_hidden()

    open_hours = open_widget(new_context(), live_server_url, "demo")
    expect(open_hours.get_by_text("Who would you like to talk to?")).to_be_visible()
    expect(open_hours.get_by_text("We are closed right now")).to_have_count(0)

    closed = open_widget(new_context(), live_server_url, "demo-after-hours")
    expect(closed.get_by_text("We are closed right now", exact=False).first).to_be_visible()
    expect(closed.get_by_text("Leave a message", exact=True).first).to_be_visible()
