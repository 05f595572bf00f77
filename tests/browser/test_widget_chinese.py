"""A visitor whose browser reads Simplified Chinese opens the widget on the demo shop: the widget, the bot's
welcome, an FAQ answer, the queue and the agent's arrival are all in Chinese, then they chat with an agent.
Screenshots of the widget go to var/screenshots/ (docs/i18n.md, "Customers"), and no English word is left
anywhere on the widget."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bots.models import BotFlow
from crm.models import ChannelKind, Contact
from crm.roles import AGENT
from imsubsystem.models import CannedResponse, Conversation, Inbox
from routing.models import RoutingPolicy
from tests.browser.test_chat import agent_send, customer_send, log_in_agent, open_widget, pick_from_queue
from tests.factories import FaqEntryFactory, UserFactory
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
CHINESE_BROWSER = {"locale": "zh-CN", "extra_http_headers": {"Accept-Language": "zh-CN,zh;q=0.9"}}


@pytest.fixture
def shop(transactional_db):
    queue = QueueFactory(name="Support", policy=RoutingPolicy.MANUAL)
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queue)
    BotFlow.objects.create(
        inbox=inbox,
        name="Shop",
        welcome={"en": "Welcome to Northwind Outfitters!", "zh-Hans": "欢迎光临北风户外！我是智能助手。"},
        queue_update_every_s=0,
    )
    FaqEntryFactory(
        title="Delivery time",
        phrasings="How long does delivery take?\n发货需要多长时间？\n多久能收到货？",
        keywords="delivery, 发货, 快递, 收到",
        answer={"en": "Orders arrive within 3 working days.", "zh-Hans": "订单通常在 3 个工作日内送达。"},
    )
    agent = UserFactory(username="agent1", first_name="小王", role=AGENT)
    AgentProfileFactory(user=agent, queues=[queue], status="available")
    return {"inbox": inbox, "agent": agent}


def widget_words(page: Page) -> list[str]:
    """Every text and label the widget shows or reads out: its text nodes, placeholders, titles and
    aria-labels (what the customer typed is left out)."""
    return page.evaluate(
        """() => {
            const root = document.querySelector('[data-switchboard-widget]').shadowRoot;
            const words = [];
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const node = walker.currentNode;
                if (node.parentElement.closest('.sbw-from-customer')) continue;
                if (node.parentElement.closest('[hidden]')) continue;
                if (node.textContent.trim()) words.push(node.textContent.trim());
            }
            root.querySelectorAll('[placeholder],[title],[aria-label]').forEach((el) => {
                ['placeholder', 'title', 'aria-label'].forEach((name) => {
                    if (el.getAttribute(name)) words.push(el.getAttribute(name));
                });
            });
            return words;
        }"""
    )


def english_left(words: list[str]) -> list[str]:
    return [w for w in words if re.search(r"[A-Za-z]{2,}", w)]


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"widget-zh-{name}.png"))


def panel_fits(page: Page) -> bool:
    """Nothing in the panel is wider than the panel (CJK text wraps where English would not)."""
    return page.evaluate(
        """() => {
            const root = document.querySelector('[data-switchboard-widget]').shadowRoot;
            const panel = root.querySelector('.sbw-panel').getBoundingClientRect();
            return Array.from(root.querySelectorAll('.sbw-panel *')).every((el) => {
                const box = el.getBoundingClientRect();
                if (!box.width) return true;
                return box.left >= panel.left - 1 && box.right <= panel.right + 1;
            });
        }"""
    )


def test_a_chinese_visitor_chats_with_the_bot_and_an_agent_in_chinese(shop, live_server_url, new_context):
    customer = open_widget(new_context(**CHINESE_BROWSER), live_server_url)
    expect(customer.locator(".sbw-input")).to_have_attribute("placeholder", "请输入消息…")
    expect(customer.locator(".sbw-title")).to_have_text("在线咨询")
    expect(customer.locator(".sbw-send")).to_have_text("发送")
    assert english_left(widget_words(customer)) == []
    shoot(customer, "1-open")

    customer_send(customer, "你好，发货需要多长时间？")
    bot = customer.locator(".sbw-from-bot .sbw-text")
    expect(bot).to_have_text(["欢迎光临北风户外！我是智能助手。", "订单通常在 3 个工作日内送达。"])
    conversation = Conversation.objects.get(inbox=shop["inbox"])
    assert conversation.language == "zh-hans"
    assert Contact.objects.get(pk=conversation.contact_id).language == "zh-hans"
    assert english_left(widget_words(customer)) == [], "the bot's name and every label are Chinese"
    shoot(customer, "2-bot")

    customer_send(customer, "转人工")
    expect(bot.last).to_have_text("正在为您转接人工客服，请稍候。")
    expect(customer.locator(".sbw-banner")).to_have_text(re.compile(r"^(您当前排在第 1 位|正在等待空闲的客服)"))

    CannedResponse.objects.create(
        shortcut="greet",
        title="Greeting",
        text="Hello, how can I help?",
        translations={"zh-Hans": "您好，请问有什么可以帮您？"},
    )
    agent = log_in_agent(new_context(), live_server_url)
    pick_from_queue(agent)
    expect(customer.locator(".sbw-banner")).to_have_text("小王 正在为您服务。")
    expect(bot.last).to_have_text("小王 已加入会话。")
    # A canned response goes in in the customer's language.
    box = agent.locator("#con-input")
    box.fill("")
    box.type("/gre")
    expect(agent.locator("#con-picker .picker-item")).to_have_count(1)
    box.press("Enter")
    expect(box).to_have_value("您好，请问有什么可以帮您？")
    box.press("Enter")
    agent_send(agent, "您好，我来帮您查一下订单。")
    expect(customer.locator(".sbw-from-agent .sbw-text")).to_have_text(
        ["您好，请问有什么可以帮您？", "您好，我来帮您查一下订单。"]
    )
    customer_send(customer, "谢谢！订单号是 4471。")
    expect(customer.locator(".sbw-from-customer").last).to_have_attribute("data-state", "sent")
    expect(agent.locator("#con-messages .msg-text").last).to_have_text("谢谢！订单号是 4471。")
    # Times are written the Chinese way by Intl (24-hour clock, no AM/PM).
    for time in customer.locator(".sbw-time").all_text_contents():
        assert re.fullmatch(r"\d{2}:\d{2}", time), time
    words = widget_words(customer)
    assert english_left(words) == [], english_left(words)
    assert panel_fits(customer)
    shoot(customer, "3-agent")

    # A reload keeps the Chinese words (they are kept with the session), with no English flash.
    customer.reload()
    expect(customer.locator(".sbw-input")).to_have_attribute("placeholder", "请输入消息…")
    expect(customer.locator(".sbw-from-agent .sbw-text").last).to_have_text("您好，我来帮您查一下订单。")
    assert english_left(widget_words(customer)) == []
