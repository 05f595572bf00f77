"""Real Chromium under the Content-Security-Policy: the customer chats in the widget on the demo shop,
the agent answers from the console with a picture, the supervisor watches the dashboard, staff open
contacts and the admin; every page works and the browser reports no CSP violation anywhere."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from crm.roles import SUPERVISOR
from supervisor.models import Team
from tests.browser.conftest import browser, live_server_url, new_context  # noqa: F401 - reused fixtures
from tests.browser.test_chat import (  # noqa: F401 (shop is a fixture)
    agent_send,
    customer_send,
    log_in_agent,
    open_widget,
    pick_from_queue,
    shop,
)
from tests.factories import ContactFactory, TagFactory, UserFactory
from tests.factories.crm import PASSWORD
from tests.factories.media import image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every page of a context records the violations it sees, in the page and in shadow roots (the event is
# composed), before any of the page's own scripts run.
RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
}, true);
"""


def watched_context(new_context, seen: list[str]):
    context = new_context()
    context.add_init_script(RECORDER)

    def on_console(message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            seen.append(message.text)

    context.on("page", lambda page: page.on("console", on_console))
    return context


def violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def log_in(context, base_url: str, username: str, next_url: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_url}")
    return page


def test_widget_console_and_dashboard_work_with_no_csp_violation(shop, live_server_url, new_context):
    supervisor = UserFactory(username="sup-csp", role=SUPERVISOR, is_staff=True, is_superuser=True)
    team = Team.objects.create(name="Web")
    team.supervisors.set([supervisor])
    team.queues.set([shop["queue"]])
    ContactFactory(name="Tagged Customer").tags.set([TagFactory(name="vip", color="#b42318")])
    console_seen: list[str] = []

    customer = open_widget(watched_context(new_context, console_seen), live_server_url)
    agent = log_in_agent(watched_context(new_context, console_seen), live_server_url)
    boss = log_in(watched_context(new_context, console_seen), live_server_url, "sup-csp", "/supervisor/")
    expect(boss.locator("#sv-link")).to_have_attribute("data-state", "open")

    customer_send(customer, "Hello under a strict policy")
    expect(customer.locator(".sbw-msg[data-seq='1'] ")).to_have_attribute("data-state", "sent")
    row = boss.locator(f'#sv-queues tr[data-queue="{shop["queue"].pk}"]')
    expect(row.locator('[data-field="waiting"]')).to_have_text("1", timeout=8000)

    pick_from_queue(agent)
    expect(agent.locator("#con-messages .msg.from-customer .msg-text")).to_have_text(["Hello under a strict policy"])
    agent_send(agent, "Hi! Here is a picture.")
    expect(customer.locator(".sbw-from-agent .sbw-text")).to_have_text(["Hi! Here is a picture."])
    # A picture: a blob: preview while staged, then a thumbnail on both screens.
    agent.locator("#con-file").set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": image_bytes("PNG", (300, 200))}
    )
    expect(agent.locator("#con-staged .con-chip img")).to_have_count(1)
    agent.locator("#con-input").focus()
    agent.locator("#con-input").press("Control+Enter")
    expect(agent.locator("#con-messages .msg[data-seq='3'] .msg-attachment img")).to_have_count(1)
    expect(customer.locator(".sbw-msg[data-seq='3'] img.sbw-thumb")).to_be_visible()
    assert (
        customer.evaluate(
            """() => document.querySelector('[data-switchboard-widget]').shadowRoot
             .querySelector(".sbw-msg[data-seq='3'] img.sbw-thumb").naturalWidth"""
        )
        > 0
    )
    expect(row.locator('[data-field="waiting"]')).to_have_text("0", timeout=8000)

    # Contacts (tag colours come from a script now, not style attributes) and the admin.
    contacts = boss.context.new_page()
    contacts.goto(f"{live_server_url}/crm/contacts/")
    chip = contacts.locator(".tag", has_text="vip")
    expect(chip).to_have_css("color", "rgb(180, 35, 24)")
    admin = boss.context.new_page()
    admin.goto(f"{live_server_url}/admin/")
    expect(admin.locator("#site-name")).to_be_visible()
    for path in ("/supervisor/reports/", "/supervisor/staffing/"):
        admin.goto(f"{live_server_url}{path}")
        admin.wait_for_load_state("networkidle")

    for page in (customer, agent, boss, contacts, admin):
        assert violations(page) == [], page.url
    assert console_seen == []
