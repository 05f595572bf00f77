"""The integrator API's pages in real Chromium: the account page makes a token whose key is shown once and
revokes it; the documentation page draws every operation under the site's Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from api.models import ApiToken
from api.tokens import token_for_key
from crm.roles import AGENT
from tests.factories import UserFactory
from tests.factories.crm import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def watch_console(page: Page) -> list[str]:
    """Console errors and Content-Security-Policy violations the page reports."""
    seen: list[str] = []

    def on_console(message) -> None:
        # The browser asks every site for /favicon.ico; the staff pages have none.
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            seen.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
    page.add_init_script(
        """document.addEventListener('securitypolicyviolation', (e) =>
             console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"""
    )
    return seen


def log_in(context, base_url: str, username: str, next_path: str) -> Page:
    page = context.new_page()
    problems = watch_console(page)
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")
    page.problems = problems
    return page


def test_a_token_made_in_the_account_page_is_shown_once_and_revoked(live_server_url, new_context):
    UserFactory(username="agent1", first_name="Alex", role=AGENT)
    context = new_context()
    page = log_in(context, live_server_url, "agent1", "/crm/contacts/")
    page.locator("#nav-account").click()
    page.wait_for_url(f"{live_server_url}/account/")
    expect(page.locator("#token-list")).to_contain_text("No tokens yet.")

    page.fill("#token-form input[name=name]", "order system")
    page.select_option("#token-form select[name=scope]", "write")
    page.locator("#token-form button[type=submit]").click()
    key_box = page.locator("#new-token-key")
    expect(key_box).to_be_visible()
    key = key_box.input_value()
    assert key.startswith("sbk_")
    token, _ = token_for_key(key)
    assert token is not None and token.name == "order system" and token.scope == ApiToken.WRITE
    row = page.locator(f"#token-list tr[data-token-id='{token.pk}']")
    expect(row).to_contain_text("order system")
    expect(row).to_contain_text(f"sbk_{token.prefix}_…")

    # The key works, and it is shown once: the page again no longer has it.
    answer = context.request.get(f"{live_server_url}/api/rest/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert answer.status == 200 and answer.json()["token"]["name"] == "order system"
    page.goto(f"{live_server_url}/account/")
    expect(page.locator("#new-token-key")).to_have_count(0)
    assert key not in page.content()
    expect(row).to_contain_text("Read and write")

    row.get_by_role("button", name="Revoke").click()
    page.wait_for_url(f"{live_server_url}/account/")
    expect(page.locator(".flash")).to_contain_text("is revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    answer = context.request.get(f"{live_server_url}/api/rest/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert answer.status == 401 and answer.json()["error"]["reason"] == "revoked"
    assert page.problems == []


def test_the_documentation_page_lists_the_operations_under_the_site_s_csp(live_server_url, new_context):
    context = new_context()
    page = context.new_page()
    problems = watch_console(page)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((live_server_url, "blob:", "data:")) else None,
    )
    response = page.goto(f"{live_server_url}/api/rest/v1/docs")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    for operation in ("The caller", "List inboxes", "Make an API token", "Revoke one of your API tokens"):
        expect(page.get_by_text(operation, exact=True).first).to_be_visible(timeout=20000)
    # An operation opens with its parameters and its answers, the one error shape among them.
    page.get_by_text("Make an API token", exact=True).first.click()
    expect(page.get_by_text("Idempotency-Key").first).to_be_visible()
    expect(page.locator(".responses-wrapper").first).to_contain_text("429")
    assert problems == [], problems
    assert outside == [], outside
    # The rest of the site keeps the strict policy.
    other = context.request.get(f"{live_server_url}/accounts/login/")
    assert "unsafe-inline" not in other.headers["content-security-policy"]
