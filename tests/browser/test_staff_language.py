"""A staff user's language in real Chromium (docs/i18n.md): one whose preference is zh-Hans logs in from
an English browser and sees the CRM's contact list and a contact record in Chinese, dates in their
timezone and Chinese format; the header's switcher changes the language, and the choice sticks after a
log-out and a log-in from another browser. Screenshots: var/screenshots/staff-*.png."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from crm.models import ChannelKind, Note
from crm.roles import AGENT
from switchboard.models import StaffPreference
from tests.factories import UserFactory
from tests.factories.crm import PASSWORD, CompanyFactory, ContactFactory, ContactIdentityFactory, TagFactory
from tests.factories.imsubsystem import ConversationFactory, InboxFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ENGLISH_BROWSER = {"locale": "en-US", "extra_http_headers": {"Accept-Language": "en-US,en;q=0.9"}}
CHINESE_BROWSER = {"locale": "zh-CN", "extra_http_headers": {"Accept-Language": "zh-CN,zh;q=0.9"}}

# Words on the pages that are data or names, not interface: what the customer or the staff typed, the
# brand, the other language's own name in the switcher, and the standards and examples the help texts
# name (BCP 47 tags such as en, fr, zh-Hans; IANA zones such as Asia/Shanghai).
DATA_WORDS = {"Switchboard", "English", "Zhou", "Min", "Acme", "Trading", "vip", "zhou", "example", "org", "wx", "wang"}
DATA_WORDS |= {"BCP", "en", "fr", "zh", "Hans", "IANA", "Asia", "Shanghai"}


def english_words(page) -> set[str]:
    """Latin words in the visible interface (header and main), less the page's data."""
    text = page.locator("header").inner_text() + "\n" + page.locator("main").inner_text()
    return {word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in DATA_WORDS}


def log_in(context, base_url: str, username: str):
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{base_url}/crm/contacts/")
    return page


def log_out(page) -> None:
    page.locator("header form[action='/accounts/logout/'] button").click()
    page.wait_for_load_state()


@pytest.fixture
def contact(db):
    contact = ContactFactory(
        name="Zhou Min",
        emails=["zhou@example.org"],
        phones=["+8613800138000"],
        language="zh-Hans",
        company=CompanyFactory(name="Acme Trading"),
        tags=[TagFactory(name="vip")],
    )
    ContactIdentityFactory(contact=contact, kind=ChannelKind.WECHAT, external_id="wx-7788")
    note = Note.objects.create(contact=contact, body="回电确认订单")
    Note.objects.filter(pk=note.pk).update(created_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))
    return contact


def closed_conversation(contact, user):
    opened = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    ConversationFactory(
        contact=contact,
        inbox=InboxFactory(kind="web", name="官网"),
        status="closed",
        queue=None,
        assignee=user,
        created_at=opened,
        closed_at=opened + dt.timedelta(minutes=12),
    )


def test_a_staff_user_whose_preference_is_chinese_sees_the_crm_in_chinese(live_server_url, new_context, contact):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    user = UserFactory(username="wang", first_name="王芳", last_name="", role=AGENT)
    StaffPreference.objects.create(user=user, language="zh-hans", timezone="Asia/Shanghai")
    closed_conversation(contact, user)

    page = log_in(new_context(**ENGLISH_BROWSER), live_server_url, "wang")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_have_text("客户")
    expect(page.locator("header nav")).to_contain_text("坐席工作台")
    expect(page.locator("header")).to_contain_text("退出登录")
    expect(page.locator("thead")).to_contain_text("电子邮件")
    expect(page.locator("tbody")).to_contain_text("前")  # "N 分钟前": timesince in Chinese
    page.screenshot(path=str(SCREENSHOTS / "staff-contact-list-zh.png"), full_page=True)
    assert english_words(page) == set(), " ".join(sorted(english_words(page)))

    page.get_by_role("link", name="Zhou Min").click()
    page.wait_for_url(f"{live_server_url}/crm/contacts/{contact.pk}/")
    main = page.locator("main")
    for text in ("详细信息", "渠道", "备注", "会话", "姓名", "语言", "时区", "公司", "保存", "添加备注", "微信"):
        expect(main).to_contain_text(text)
    # The closed conversation: its status, channel and times in Chinese (Shanghai: 09:00 to 09:12).
    conversations = page.locator("table.conversations tbody")
    expect(conversations).to_contain_text("已结束")
    expect(conversations).to_contain_text("网页插件")
    expect(conversations).to_contain_text("2026年3月2日 09:12")
    # The note of 2026-03-01 23:30 UTC, in Shanghai's time (the next day) and Chinese format.
    expect(page.locator(".notes")).to_contain_text("2026年3月2日 07:30")
    expect(page.locator("textarea[name=body]")).to_have_attribute("placeholder", "添加备注…")
    page.screenshot(path=str(SCREENSHOTS / "staff-contact-zh.png"), full_page=True)
    assert english_words(page) == set(), " ".join(sorted(english_words(page)))
    # Nothing wider than the window: Chinese wraps differently.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The "New conversation" form, drawn by static/crm/outbound.js from the browser's catalog (/jsi18n/).
    page.locator("details.outbound summary").click()
    expect(page.locator("details.outbound")).to_contain_text("接入渠道")
    expect(page.locator("details.outbound")).to_contain_text(re.compile("您不能在任何接入渠道发起会话|消息"))
    page.screenshot(path=str(SCREENSHOTS / "staff-contact-new-conversation-zh.png"), full_page=True)
    assert english_words(page) == set(), " ".join(sorted(english_words(page)))

    # The account page: the language and timezone chosen, in Chinese.
    page.locator("#nav-account").click()
    page.wait_for_url(f"{live_server_url}/account/")
    expect(page.locator("#preferences")).to_have_text("语言和时区")
    expect(page.locator("#preference-form select[name=language]")).to_have_value("zh-hans")
    expect(page.locator("#preference-form input[name=timezone]")).to_have_value("Asia/Shanghai")
    expect(page.locator("main")).to_contain_text("暂无令牌。")
    page.screenshot(path=str(SCREENSHOTS / "staff-account-zh.png"), full_page=True)


def test_the_switcher_changes_the_language_and_it_sticks_after_logging_in_again(live_server_url, new_context, contact):
    user = UserFactory(username="li", role=AGENT)
    StaffPreference.objects.create(user=user, language="zh-hans")

    page = log_in(new_context(**CHINESE_BROWSER), live_server_url, "li")
    page.goto(f"{live_server_url}/crm/contacts/{contact.pk}/")
    expect(page.locator("main")).to_contain_text("详细信息")
    page.select_option("#language-switch select", "en")
    page.locator("#language-switch button").click()
    page.wait_for_url(f"{live_server_url}/crm/contacts/{contact.pk}/")  # back on the same page
    expect(page.locator("main")).to_contain_text("Details")
    expect(page.locator("#language-switch select")).to_have_value("en")
    assert StaffPreference.objects.get(user=user).language == "en"
    log_out(page)

    # Another browser, Chinese by its headers: the saved choice (English) wins once logged in.
    login = new_context(**CHINESE_BROWSER).new_page()
    login.goto(f"{live_server_url}/accounts/login/")
    expect(login.locator("h1")).to_have_text("登录")
    login.screenshot(path=str(SCREENSHOTS / "staff-login-zh.png"))
    page = log_in(new_context(**CHINESE_BROWSER), live_server_url, "li")
    expect(page.locator("h1")).to_have_text("Contacts")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # And back to Chinese with the switcher, again kept across a log-in.
    page.select_option("#language-switch select", "zh-hans")
    page.locator("#language-switch button").click()
    expect(page.locator("h1")).to_have_text("客户")
    log_out(page)
    page = log_in(new_context(**ENGLISH_BROWSER), live_server_url, "li")
    expect(page.locator("h1")).to_have_text("客户")
    page.screenshot(path=str(SCREENSHOTS / "staff-switched-back-zh.png"), full_page=True)
