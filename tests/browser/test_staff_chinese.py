"""Staff pages in Simplified Chinese: an agent whose language is zh-Hans works the console (an offer, accepted,
a chat, message times and dates in Chinese form) and a supervisor reads the dashboard, reports and staffing in
Chinese with their charts. Each page's text is checked for English left over, and a screenshot of each is
saved to var/screenshots/ for a person to look at."""

# Chinese text is written with Chinese (full-width) punctuation.

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from crm.models import Contact
from crm.roles import AGENT, SUPERVISOR
from imsubsystem.models import Conversation, Inbox, Message
from routing.models import RoutingPolicy
from supervisor.models import Team
from switchboard.models import StaffPreference
from tests.factories import UserFactory
from tests.factories.crm import PASSWORD
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
TIMEZONE = "Asia/Shanghai"
# Latin words a Chinese page may show: product and platform names, key names, units and formats.
ALLOWED_LATIN = {
    "Switchboard",
    "WhatsApp",
    "Meta",
    "Alt",
    "Ctrl",
    "Shift",
    "Enter",
    "Esc",
    "CSV",
    "Erlang",
    "docs",
    "supervisor",
    "md",
    "CV",
}


def staff_in_chinese(user) -> None:
    """What makes this user's pages Chinese: the language in their profile (the account page's
    preference), whatever the browser says (an English one, see chinese_context)."""
    StaffPreference.objects.update_or_create(user=user, defaults={"language": "zh-hans"})


def chinese_context(new_context):
    """An English browser in Shanghai: the pages are Chinese because the staff member's profile says so."""
    return new_context(locale="en-US", timezone_id=TIMEZONE, extra_http_headers={"Accept-Language": "en-US,en;q=0.9"})


def log_in(page: Page, base_url: str, username: str, next_path: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{next_path}")


def english_left(page: Page, written_by_people: list[str]) -> list[str]:
    """Latin words in the page's main part as shown (what customers and staff wrote, and names, aside)."""
    text = page.locator("main").inner_text()
    for written in written_by_people:
        text = text.replace(written, " ")
    words = re.findall(r"[A-Za-z]{2,}", text)
    return sorted({word for word in words if word not in ALLOWED_LATIN})


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


@pytest.fixture
def desk(transactional_db):
    queue = QueueFactory(name="售后服务", policy=RoutingPolicy.LEAST_BUSY, offer_timeout_s=60)
    inbox = Inbox.objects.create(kind="web", key="demo", name="网上商城", default_queue=queue)
    agent = UserFactory(username="liming", first_name="李明", role=AGENT)
    AgentProfileFactory(user=agent, queues=[queue], status="away")
    supervisor = UserFactory(username="zhangwei", first_name="张伟", role=SUPERVISOR)
    team = Team.objects.create(name="华东组")
    team.supervisors.set([supervisor])
    team.queues.set([queue])
    for user in (agent, supervisor):
        staff_in_chinese(user)
    return {"queue": queue, "inbox": inbox, "agent": agent, "supervisor": supervisor}


def customer_writes(new_context, base_url: str, text: str, name: str) -> tuple[Page, Conversation]:
    """A customer writes in the widget; their contact is then given a name (as an agent would)."""
    customer = new_context().new_page()
    customer.goto(f"{base_url}/widget/demo/demo/")
    customer.locator(".sbw-launcher").click()
    customer.locator(".sbw-input").fill(text)
    customer.locator(".sbw-input").press("Enter")
    expect(customer.locator(".sbw-msg[data-state=sending]")).to_have_count(0)
    conversation = Conversation.objects.get()
    Contact.objects.filter(pk=conversation.contact_id).update(name=name)
    return customer, conversation


def test_an_agent_works_the_console_in_chinese(desk, live_server_url, new_context):
    customer, conversation = customer_writes(new_context, live_server_url, "你好，我的快递三天了还没到", "王芳")
    agent = chinese_context(new_context).new_page()
    log_in(agent, live_server_url, "liming", "/agent/")
    assert agent.evaluate("document.documentElement.lang") == "zh-hans"
    expect(agent.locator("#con-link")).to_have_text("已连接")
    agent.keyboard.press("Alt+1")
    expect(agent.locator("[data-presence=available]")).to_have_attribute("aria-checked", "true")
    expect(agent.locator("[data-presence=available]")).to_have_text("在线")

    offer = agent.locator("#con-offers .offer")
    expect(offer).to_be_visible()
    expect(offer.locator("button.primary")).to_have_text("接受")
    expect(offer.locator(".offer-countdown")).to_have_text(re.compile(r"^\d+秒$"))
    screenshot(agent, "zh-console-offer.png")
    offer.locator("button.primary").click()

    expect(agent.locator("#con-messages .msg.from-customer .msg-text")).to_have_text(["你好，我的快递三天了还没到"])
    expect(agent.locator("#con-chat-status")).to_have_text("已接入")
    agent.locator("#con-input").fill("您好，我帮您查一下物流信息。")
    agent.locator("#con-input").press("Enter")
    expect(agent.locator("#con-messages .msg.from-agent[data-state=sent]")).to_have_count(1)
    expect(customer.locator(".sbw-msg", has_text="我帮您查一下物流信息")).to_be_visible()

    # Today's messages show the time as a Chinese reader writes it (24-hour), in the viewer's time zone.
    sent = Message.objects.get(conversation=conversation, seq=1).created_at.astimezone(ZoneInfo(TIMEZONE))
    expect(agent.locator("#con-messages .msg[data-seq='1'] .msg-time")).to_have_text(sent.strftime("%H:%M"))
    # An older message shows its date too: month and day, and the year when it is not this year's.
    Message.objects.filter(conversation=conversation, seq=1).update(
        created_at=datetime(2025, 3, 14, 2, 30, tzinfo=ZoneInfo("UTC"))
    )
    agent.reload()
    expect(agent.locator("#con-link")).to_have_text("已连接")
    agent.locator("#con-mine .con-item").first.click()
    expect(agent.locator("#con-messages .msg[data-seq='1'] .msg-time")).to_have_text("2025年3月14日 10:30")
    expect(agent.locator("#con-contact-name")).to_have_text("王芳")
    expect(agent.locator("#con-mine .con-item .status-pill")).to_have_text("已接入")
    expect(agent.locator("#con-mine .con-item-preview")).to_have_text("我：您好，我帮您查一下物流信息。")

    people = ["你好，我的快递三天了还没到", "您好，我帮您查一下物流信息。", "王芳", "李明", "网上商城", "售后服务"]
    # The customer's address on the channel (the widget visitor's id) is data, not words.
    people += [identity.external_id for identity in conversation.contact.identities.all()]
    # What the visitor's browser reported (its page, address, browser, system, language, zone) is data.
    people += agent.locator("#con-visitor dd").all_inner_texts()
    screenshot(agent, "zh-console-chat.png")
    assert english_left(agent, people) == []

    agent.keyboard.press("Alt+W")
    expect(agent.locator("#con-close")).to_be_visible()
    expect(agent.locator("#con-close h3")).to_have_text("结束会话")
    screenshot(agent, "zh-console-close.png")
    agent.locator("#con-close-note").fill("已告知客户物流单号")
    agent.locator("#con-close button[value=ok]").click()
    expect(agent.locator("#con-chat-status")).to_have_text("已结束")
    agent.keyboard.press("?")
    expect(agent.locator("#con-help h3")).to_have_text("快捷键")
    screenshot(agent, "zh-console-help.png")
    assert english_left(agent, people) == []


def test_a_supervisor_reads_the_dashboard_reports_and_staffing_in_chinese(desk, live_server_url, new_context):
    customer_writes(new_context, live_server_url, "请问可以开发票吗？", "陈静")

    page = chinese_context(new_context).new_page()
    log_in(page, live_server_url, "zhangwei", "/supervisor/")
    expect(page.locator("#sv-link")).to_have_text("实时")
    expect(page.locator("h1")).to_have_text("主管监控台")
    row = page.locator(f'#sv-queues tr[data-queue="{desk["queue"].pk}"]')
    expect(row.locator('[data-field="name"]')).to_have_text("售后服务")
    expect(row.locator('[data-field="longest_wait"]')).to_have_text(re.compile(r"^(\d+分钟)?\d+秒$|^–$"))
    expect(page.locator("#sv-at")).to_have_text(re.compile(r"^更新于 \d{2}:\d{2}:\d{2}$"))
    agent_row = page.locator(f'#sv-agents tr[data-agent="{desk["agent"].pk}"]')
    expect(agent_row.locator("select option:checked")).to_have_text("离开")
    expect(page.locator("#sv-conversations tbody tr")).to_have_count(1)
    expect(page.locator("#sv-conversations tbody tr button")).to_have_text("打开")
    # The charts are drawn, with Chinese legends.
    expect(page.locator("#sv-occ-chart text", has_text="占用率")).to_have_count(1)
    expect(page.locator("#sv-asg-chart text").first).to_be_visible()
    people = ["售后服务", "李明", "网上商城", "请问可以开发票吗？", "陈静"]
    assert english_left(page, people) == []
    screenshot(page, "zh-supervisor-dashboard.png")

    page.locator("#sv-conversations tbody tr button").click()
    expect(page.locator("#sv-dialog")).to_be_visible()
    expect(page.locator("#sv-dialog-title")).to_have_text(re.compile(r"^会话 #\d+$"))
    screenshot(page, "zh-supervisor-dialog.png")
    page.locator("#sv-dialog-close").click()

    page.locator("#sv-conversations tbody tr a.sv-transcript").click()
    expect(page.locator("h1")).to_have_text(re.compile(r"^会话 #\d+$"))
    # The server's time, shown again in the viewer's time zone and in Chinese form.
    written = Message.objects.get(conversation__inbox=desk["inbox"], seq=1).created_at.astimezone(ZoneInfo(TIMEZONE))
    # The thread: a Chinese line for the day, then each message's clock time.
    expect(page.locator(".thread-msg time.thread-time").first).to_have_text(f"{written:%H:%M}")
    expect(page.locator(".thread-day").last).to_have_text(
        re.compile(rf"^{written.year}年{written.month}月{written.day}日星期.$")
    )
    assert english_left(page, people) == []
    screenshot(page, "zh-supervisor-transcript.png")

    page.goto(f"{live_server_url}/supervisor/reports/")
    expect(page.locator("h1")).to_have_text("报表")
    expect(page.locator("#sv-report-table thead th").first).to_have_text("周期")
    expect(page.locator("#sv-report-volume rect").first).to_be_attached()
    assert english_left(page, people) == []
    screenshot(page, "zh-supervisor-reports.png")

    page.goto(f"{live_server_url}/supervisor/staffing/")
    expect(page.locator("h1")).to_have_text("排班")
    expect(page.locator(".sv-staffing-chart rect").first).to_be_attached()
    assert english_left(page, people) == []
    screenshot(page, "zh-supervisor-staffing.png")
