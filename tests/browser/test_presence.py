"""What agents, supervisors and customers are shown is what is true, in real Chromium on real daphne:

* presence follows the console: an agent who closes their last console tab is, after the grace, shown
  disconnected and offered nothing (the new conversation goes to the other agent); reopening the console
  brings back the status they chose. A console whose server process is killed (no close) lapses too.
* conversations with the bot are visible to supervisors (count per inbox, transcript), and leave the
  "Mine" list of the agent who last held them, live and after a reload.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from crm.models import ChannelKind
from crm.roles import AGENT, SUPERVISOR
from imsubsystem import services as switch
from imsubsystem.models import Conversation, Inbox
from imsubsystem.models import ConversationStatus as S
from routing import services as routing
from routing.models import AgentProfile, Offer, RoutingPolicy
from supervisor.models import Team
from tests.browser.conftest import daphne_serving
from tests.browser.test_chat import customer_send, open_widget
from tests.factories import ContactFactory, ConversationFactory, UserFactory
from tests.factories.crm import PASSWORD
from tests.factories.routing import AgentProfileFactory, QueueFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Short, so the test does not wait half a minute: the grace, and a heartbeat (a console lapses three
# heartbeats after its process stopped refreshing it).
PRESENCE_ENV = {"ROUTING_CONSOLE_GRACE_S": "1", "ROUTING_CONSOLE_HEARTBEAT_S": "0.5"}


@pytest.fixture(scope="module")
def live_server_url(django_db_setup, django_db_blocker, tmp_path_factory):
    with daphne_serving(django_db_blocker, tmp_path_factory, **PRESENCE_ENV) as (base_url, _):
        yield base_url


@pytest.fixture
def desk(transactional_db):
    queue = QueueFactory(name="Support", policy=RoutingPolicy.LEAST_BUSY, offer_timeout_s=30)
    inbox = Inbox.objects.create(kind=ChannelKind.WEB, key="demo", name="Web shop", default_queue=queue)
    alex = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    sam = UserFactory(username="agent2", first_name="Sam", role=AGENT)
    for user in (alex, sam):
        AgentProfileFactory(user=user, queues=[queue], status="offline")
    boss = UserFactory(username="sup", role=SUPERVISOR)
    team = Team.objects.create(name="Support team")
    team.supervisors.set([boss])
    team.queues.set([queue])
    return {"queue": queue, "inbox": inbox, "alex": alex, "sam": sam}


def log_in(context, base_url: str, username: str, landing: str) -> Page:
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/?next={landing}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{landing}")
    return page


def console_available(context, base_url: str, username: str) -> Page:
    page = log_in(context, base_url, username, "/agent/")
    expect(page.locator("#con-link")).to_have_attribute("data-state", "online")
    page.keyboard.press("Alt+1")
    expect(page.locator("[data-presence=available]")).to_have_attribute("aria-checked", "true")
    return page


def until(condition, *, timeout: float = 15.0, tick=None) -> None:
    """Wait for a condition of the database (`tick` runs between looks, as Celery beat would)."""
    deadline = time.monotonic() + timeout
    while True:
        if tick is not None:
            tick()
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def profile(user) -> AgentProfile:
    return AgentProfile.objects.get(user=user)


def agent_chip(dashboard: Page, user):
    return dashboard.locator(f'#sv-agents tr[data-agent="{user.pk}"] .chip')


def test_closed_console_is_offered_nothing_and_comes_back_when_reopened(desk, live_server_url, new_context):
    alex_context = new_context()
    alex = console_available(alex_context, live_server_url, "agent1")
    sam = console_available(new_context(), live_server_url, "agent2")
    until(lambda: profile(desk["alex"]).status == profile(desk["sam"]).status == "available")
    dashboard = log_in(new_context(), live_server_url, "sup", "/supervisor/")
    expect(agent_chip(dashboard, desk["alex"])).to_have_text("available")

    # Alex closes the console tab: after the grace the dashboard shows them disconnected...
    alex.close()
    expect(agent_chip(dashboard, desk["alex"])).to_have_text("disconnected", timeout=10000)
    assert (profile(desk["alex"]).status, profile(desk["alex"]).connected) == ("available", False)
    queue_row = dashboard.locator(f'#sv-queues tr[data-queue="{desk["queue"].pk}"] [data-field="agents"]')
    expect(queue_row).to_have_text("1 / 0 / 0 / 0 / 1")

    # ...and a new conversation is offered to Sam, not to Alex.
    customer = open_widget(new_context(), live_server_url)
    customer_send(customer, "Is anyone there?")
    expect(sam.locator("#con-offers .offer")).to_have_count(1)
    conversation = Conversation.objects.get(inbox=desk["inbox"])
    assert list(Offer.objects.filter(ref=conversation.pk).values_list("agent_id", flat=True)) == [desk["sam"].pk]

    # Alex opens the console again: back to available, shown so, and offered the next conversation.
    alex = alex_context.new_page()
    alex.goto(f"{live_server_url}/agent/")
    expect(alex.locator("#con-link")).to_have_attribute("data-state", "online")
    expect(alex.locator("[data-presence=available]")).to_have_attribute("aria-checked", "true")
    expect(agent_chip(dashboard, desk["alex"])).to_have_text("available", timeout=10000)
    second = open_widget(new_context(), live_server_url)
    customer_send(second, "Hello, a second customer")
    expect(alex.locator("#con-offers .offer")).to_have_count(1)
    assert Offer.objects.filter(agent_id=desk["alex"].pk).count() == 1


def test_console_of_a_killed_server_process_lapses_without_a_close(
    desk, live_server_url, new_context, django_db_blocker, tmp_path_factory, settings
):
    settings.ROUTING_CONSOLE_GRACE_S = 1
    with daphne_serving(django_db_blocker, tmp_path_factory, **PRESENCE_ENV) as (other_url, other):
        alex = console_available(new_context(), other_url, "agent1")
        sam = console_available(new_context(), live_server_url, "agent2")
        until(lambda: profile(desk["alex"]).status == profile(desk["sam"]).status == "available")
        other.kill()  # SIGKILL: Alex's socket is never closed, its heartbeats just stop
        other.wait(timeout=10)
        expect(alex.locator("#con-link")).not_to_have_attribute("data-state", "online", timeout=10000)
        # Beat's routing.tick sweeps lapsed consoles; here the test ticks in its place.
        until(lambda: not profile(desk["alex"]).connected, tick=routing.routing_tick)
        assert profile(desk["sam"]).connected
        customer = open_widget(new_context(), live_server_url)
        customer_send(customer, "Anyone?")
        expect(sam.locator("#con-offers .offer")).to_have_count(1)
        conversation = Conversation.objects.get(inbox=desk["inbox"])
        assert list(Offer.objects.filter(ref=conversation.pk).values_list("agent_id", flat=True)) == [desk["sam"].pk]


def test_bot_conversations_are_counted_for_supervisors_and_leave_mine(
    bot_double, desk, live_server_url, new_context, settings
):
    lobby = ConversationFactory(inbox=desk["inbox"], contact=ContactFactory(name="Bea Bot-User"), status=S.BOT)
    switch.message_send(conversation_id=lobby.pk, sender_kind="bot", text="Our opening hours are 9 to 17.")
    dashboard = log_in(new_context(), live_server_url, "sup", "/supervisor/")
    expect(dashboard.locator("#sv-bot-total")).to_have_text("1")
    expect(dashboard.locator(f'#sv-bot tr[data-inbox="{desk["inbox"].pk}"] [data-field="bot"]')).to_have_text("1")

    # Alex takes a conversation, closes it, and the customer writes again while a bot serves the inbox:
    # it goes back to the bot, leaving Alex's list live, and the dashboard counts it.
    alex = console_available(new_context(), live_server_url, "agent1")
    customer = open_widget(new_context(), live_server_url)
    customer_send(customer, "My order is late")
    offer = alex.locator("#con-offers .offer")
    expect(offer).to_be_visible()
    alex.evaluate("document.activeElement.blur()")
    alex.keyboard.press("Alt+A")
    conversation = Conversation.objects.exclude(pk=lobby.pk).get(inbox=desk["inbox"])
    mine = alex.locator(f'#con-mine .con-item[data-conversation-id="{conversation.pk}"]')
    expect(mine).to_have_count(1)
    switch.conversation_close(conversation_id=conversation.pk, by_user_id=desk["alex"].pk)
    expect(mine.locator(".status-pill")).to_have_text("closed")
    bot_double()
    switch.customer_message_send(inbox_id=desk["inbox"].pk, contact_id=conversation.contact_id, text="Still late")
    conversation.refresh_from_db()
    assert (conversation.status, conversation.assignee_id) == ("bot", desk["alex"].pk)
    expect(mine).to_have_count(0)
    alex.reload()
    expect(alex.locator("#con-link")).to_have_attribute("data-state", "online")
    expect(alex.locator("#con-mine .con-item")).to_have_count(0)
    expect(dashboard.locator("#sv-bot-total")).to_have_text("2", timeout=10000)

    # The supervisor opens one of them: its transcript.
    row = dashboard.locator(f'#sv-conversations tr[data-conversation="{lobby.pk}"]')
    expect(row).to_have_attribute("data-status", "bot", timeout=10000)
    row.locator("a.sv-transcript").click()
    dashboard.wait_for_url(re.compile(rf"/supervisor/conversations/{lobby.pk}/$"))
    expect(dashboard.locator("body")).to_contain_text("Our opening hours are 9 to 17.")
