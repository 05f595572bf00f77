"""Real Chromium on the live dashboard: a customer joins the queue and the open page's waiting count and
longest wait change without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from imsubsystem import services as switch
from imsubsystem.models import Conversation
from routing.models import RoutingPolicy
from tests.factories import ContactFactory
from tests.factories.crm import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_waiting_count_and_longest_wait_change_live(teams, live_server_url, new_context):
    sales = teams["sales"]
    # Manual pick: nobody is offered the conversation, so it stays waiting while we watch.
    sales.policy = RoutingPolicy.MANUAL
    sales.save()
    page = new_context().new_page()
    page.goto(f"{live_server_url}/accounts/login/?next=/supervisor/")
    page.fill("input[name=username]", "sup-a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server_url}/supervisor/")
    expect(page.locator("#sv-link")).to_have_attribute("data-state", "open")
    row = page.locator(f'#sv-queues tr[data-queue="{sales.pk}"]')
    expect(row.locator('[data-field="waiting"]')).to_have_text("0")
    expect(row.locator('[data-field="longest_wait"]')).to_have_text("0s")
    expect(page.locator(f'#sv-queues tr[data-queue="{teams["support"].pk}"]')).to_have_count(0)
    page.evaluate("window.__notReloaded = true")

    conversation_id = switch.conversation_for_customer(inbox_id=teams["sales_inbox"].pk, contact_id=ContactFactory().pk)
    if Conversation.objects.get(pk=conversation_id).status == "bot":
        switch.conversation_queue(conversation_id=conversation_id)

    expect(row.locator('[data-field="waiting"]')).to_have_text("1", timeout=5000)
    # The longest wait counts up while the customer waits (a snapshot a second).
    expect(row.locator('[data-field="longest_wait"]')).to_have_text(re.compile(r"^[1-9][0-9]*s$"), timeout=6000)
    expect(page.locator(f'#sv-conversations tr[data-conversation="{conversation_id}"]')).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True


def _seconds(text: str) -> int:
    """ "4m 12s", "59s" (the pages' English durations) -> seconds."""
    minutes = re.search(r"(\d+)\s*m(?!s)", text)
    secs = re.search(r"(\d+)\s*s", text)
    return (int(minutes.group(1)) * 60 if minutes else 0) + (int(secs.group(1)) if secs else 0)


def _log_in(page, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


def test_dashboard_and_console_show_the_customers_wait_from_the_hand_over(
    teams, live_server_url, new_context, monkeypatch
):
    """The story of tests/supervisor/test_wait_time.py, written 300 s in the past (the test process's
    clock is set back; the server reads the real one): handed over at -300 s, offer expired, overflowed to
    Support, accepted there at -150 s, transferred back to Sales at -100 s. The customer has waited 250 s
    and more; the dashboard's longest wait, its conversation list and the agent console's queue all say
    so, where a wait restarted by the transfer would show about 100 s."""
    from datetime import timedelta

    from django.utils import timezone

    from imsubsystem import selectors as switch_selectors
    from routing import services as routing
    from routing.models import AgentProfile, Offer, OfferStatus

    real_now = timezone.now
    start = real_now().replace(microsecond=0) - timedelta(seconds=300)
    moment = {"at": start}
    monkeypatch.setattr(timezone, "now", lambda: moment["at"])

    def at(seconds: int):
        moment["at"] = start + timedelta(seconds=seconds)
        return moment["at"]

    sales, support = teams["sales"], teams["support"]
    sales.max_wait_s = 120
    sales.overflow_queue = support
    sales.save()
    AgentProfile.objects.filter(user=teams["ag_a"]).update(auto_away_after_missed=1)
    for agent in (teams["ag_a"], teams["ag_b"]):
        switch.agent_presence_set(agent_id=agent.pk, status="available")
    conversation_id = switch.conversation_for_customer(inbox_id=teams["sales_inbox"].pk, contact_id=ContactFactory().pk)
    if Conversation.objects.get(pk=conversation_id).status == "bot":
        switch.conversation_queue(conversation_id=conversation_id)
    routing.routing_tick(now=at(31))  # the offer to ag-a expires; ag-a goes away
    routing.routing_tick(now=at(121))  # Sales overflows to Support: offered to ag-b
    at(150)
    offer = Offer.objects.get(ref=conversation_id, status=OfferStatus.OPEN)
    switch.offer_answer(offer_id=offer.pk, agent_id=teams["ag_b"].pk, accept=True)
    at(200)
    switch.conversation_transfer(conversation_id=conversation_id, by_user_id=teams["ag_b"].pk, queue_id=sales.pk)
    monkeypatch.setattr(timezone, "now", real_now)
    conversation = Conversation.objects.get(pk=conversation_id)
    assert conversation.status == "queued" and conversation.queue_id == sales.pk
    assert switch_selectors.customer_wait_s(conversation) >= 250

    page = new_context().new_page()
    _log_in(page, live_server_url, "sup-a", "/supervisor/")
    row = page.locator(f'#sv-queues tr[data-queue="{sales.pk}"]')
    expect(row.locator('[data-field="waiting"]')).to_have_text("1")
    longest = _seconds(row.locator('[data-field="longest_wait"]').inner_text())
    listed = page.locator(f'#sv-conversations tr[data-conversation="{conversation_id}"] [data-field="wait"]')
    expect(listed).to_have_text(re.compile(r"^\d+m \d+s$"))
    in_list = _seconds(listed.inner_text())
    figure = switch_selectors.customer_wait_s(Conversation.objects.get(pk=conversation_id))
    # The same figure as the server's, give or take the seconds between the reads.
    assert 250 <= longest <= figure + 1 and 250 <= in_list <= figure + 1, (longest, in_list, figure)

    console = new_context().new_page()
    _log_in(console, live_server_url, "ag-a", "/agent/")
    console.click('[data-tab="queue"]')
    waited = console.locator(f'#con-queue [data-conversation-id="{conversation_id}"] .waited')
    expect(waited).to_have_text(re.compile(r"^\d+m \d+s$"))
    figure = switch_selectors.customer_wait_s(Conversation.objects.get(pk=conversation_id))
    assert 250 <= _seconds(waited.inner_text()) <= figure + 1


def test_staffing_page_of_a_young_install(teams, live_server_url, new_context):
    """Installed today, 26 conversations handled: the page forecasts from today and says so."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import ConversationFactory

    now = timezone.localtime()
    if (now - timedelta(minutes=30)).date() != now.date():
        pytest.skip("too close to midnight for a day with history")
    slot_start = now.replace(minute=now.minute // 30 * 30, second=0, microsecond=0)
    for n in range(26):
        queued = slot_start + (now - slot_start) * n / 26  # all in the current half-hour
        ConversationFactory(
            inbox=teams["sales_inbox"],
            contact=ContactFactory(),
            status="closed",
            created_at=queued,
            first_queued_at=queued,
            queued_at=queued,
            assigned_at=queued + timedelta(seconds=10),
            closed_at=queued + timedelta(seconds=40),
            assignee=teams["ag_a"],
        )
    page = new_context().new_page()
    _log_in(page, live_server_url, "sup-a", "/supervisor/staffing/")
    section = page.locator(f'section.sv-staffing[data-queue="{teams["sales"].pk}"]')
    expect(section.locator('[data-basis="arrivals"]')).to_have_text(
        "Arrivals from recent days, any weekday (today so far): too little weekly history"
    )
    expect(section.locator('[data-basis="aht"]')).to_contain_text(
        "Handle time from conversations handled in recent days"
    )
    expect(section).to_contain_text("Average handle time 30.0 s")
    section.locator("summary").click()
    needed = section.locator("tr.sv-now td").nth(4)
    assert int(needed.inner_text()) >= 1
