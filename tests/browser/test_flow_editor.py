"""The bot flow editor in real Chromium (docs/bots.md, "Building a flow"): an admin adds two steps through
the inline editor, sees each kind's own fields, moves a step up, is told about a jump to a step that does
not exist, fixes it, saves, and previews the conversation as the customer would see it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from bots.models import BotFlow
from crm.roles import ADMIN
from tests.factories import InboxFactory, QueueFactory, UserFactory
from tests.factories.crm import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_builds_a_flow_in_the_editor_and_previews_it(live_server_url, new_context):
    UserFactory(username="root", role=ADMIN, is_staff=True, is_superuser=True)
    inbox = InboxFactory(key="shop", name="Shop", kind="web")
    sales = QueueFactory(name="Sales")
    page = new_context(locale="en-US").new_page()
    page.goto(f"{live_server_url}/admin/login/?next=/admin/bots/botflow/add/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{live_server_url}/admin/bots/botflow/add/")

    page.fill("input[name=name]", "Shop flow")
    page.select_option("select[name=inbox]", str(inbox.pk))
    add_step = page.locator("#steps-group .add-row a")

    # First step: the goodbye.
    add_step.click()
    first = page.locator("#steps-0")
    first.locator("input[name='steps-0-key']").fill("bye")
    first.locator("select[name='steps-0-kind']").select_option("end")
    expect(first.locator(".fieldBox.field-capture_field")).to_be_hidden()
    expect(first.locator(".form-row.field-options")).to_be_hidden()
    first.locator("textarea[name='steps-0-text__text_0']").fill("Goodbye!")

    # Second step: the question, then moved up to come first.
    add_step.click()
    second = page.locator("#steps-1")
    second.locator("input[name='steps-1-key']").fill("menu")
    second.locator("select[name='steps-1-kind']").select_option("question")
    expect(second.locator(".form-row.field-options")).to_be_visible()
    expect(second.locator(".fieldBox.field-queue")).to_be_hidden()
    second.locator("input[name='steps-1-text__lang_0']").fill("en")
    second.locator("textarea[name='steps-1-text__text_0']").fill("Sales or support?")
    second.locator("input[name='steps-1-text__lang_1']").fill("zh-Hans")
    second.locator("textarea[name='steps-1-text__text_1']").fill("销售还是支持？")
    second.locator("input[name='steps-1-options__0__label__text_0']").fill("Sales")
    second.locator("select[name='steps-1-options__0__queue']").select_option(str(sales.pk))
    second.locator("input[name='steps-1-options__0__next']").fill("byee")  # a typo
    second.locator("button.flow-step-move[title='Move up']").click()
    expect(page.locator("input[name='steps-1-position']")).to_have_value("1")
    expect(page.locator("input[name='steps-0-position']")).to_have_value("2")

    page.locator("input[name=_continue]").click()
    expect(page.locator(".errorlist.nonform, .errornote").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("option next step 'byee' does not exist")
    assert not BotFlow.objects.exists()

    # The page came back with everything typed; fix the jump and save.
    page.locator("input[name$='-options__0__next'][value='byee']").fill("bye")
    page.locator("input[name=_continue]").click()
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    flow = BotFlow.objects.get()
    assert [(s.key, s.kind, s.position) for s in flow.steps.all()] == [("menu", "question", 1), ("bye", "end", 2)]
    assert flow.steps.get(key="menu").options == [{"label": "Sales", "queue": sales.pk, "next": "bye"}]

    page.get_by_role("link", name="Preview the conversation").click()
    branch = page.locator(".flow-conversation").first
    expect(branch.locator(".flow-line-bot").nth(1)).to_contain_text("Sales or support?")
    expect(branch.locator(".flow-buttons button")).to_have_text(["Sales"])
    expect(branch.locator(".flow-line-customer")).to_have_text("Sales")
    expect(branch).to_contain_text("Goodbye!")
    expect(branch).to_contain_text("The conversation closes.")
    page.select_option("select[name=language]", "zh-hans")
    page.locator(".flow-preview-options input[type=submit]").click()
    expect(page.locator(".flow-conversation").first).to_contain_text("销售还是支持？")
