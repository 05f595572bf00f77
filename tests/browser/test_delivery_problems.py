"""A platform failure reaches the agent in the console: a reply the platform did not take shows why and
when it is tried next, "Retry now" sends it at once, and a reply that went out says nothing more."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from django.test import Client
from playwright.sync_api import expect

from crm.roles import AGENT
from gateway.models import OutboxItem
from imsubsystem.models import Inbox
from routing.models import RoutingPolicy
from tests.browser.test_chat import agent_send, log_in_agent, pick_from_queue
from tests.factories import AgentProfileFactory, QueueFactory, UserFactory
from tests.gateway.conftest import Reply, StandIn
from tests.gateway.test_webhooks import tg_update

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def platform():
    """The platform on loopback, allow-listed for the module's daphne (read when live_server_url starts it)."""
    server = StandIn()
    previous = os.environ.get("OUTBOUND_FETCH_ALLOW")
    os.environ["OUTBOUND_FETCH_ALLOW"] = server.url.removeprefix("http://")
    yield server
    if previous is None:
        os.environ.pop("OUTBOUND_FETCH_ALLOW", None)
    else:
        os.environ["OUTBOUND_FETCH_ALLOW"] = previous
    server.close()


def test_the_agent_sees_a_send_being_retried_and_retries_it_now(platform, live_server_url, new_context):
    queue = QueueFactory(name="Telegram", policy=RoutingPolicy.MANUAL)
    Inbox.objects.create(
        kind="telegram",
        key="tg-shop",
        name="Telegram",
        default_queue=queue,
        config={"api_base_url": platform.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )
    agent_user = UserFactory(username="agent1", first_name="Alex", role=AGENT)
    AgentProfileFactory(user=agent_user, queues=[queue], status="available")
    response = Client().post(
        "/gateway/telegram/tg-shop/",
        tg_update(1, 1, "Where is my parcel?", datetime.now(UTC)),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
    )
    assert response.status_code == 200

    platform.default = Reply(502, {"ok": False, "description": "Bad Gateway"})
    agent = log_in_agent(new_context(), live_server_url)
    pick_from_queue(agent)
    agent_send(agent, "It is on its way.")
    row = agent.locator("#con-messages .msg[data-seq='2']")
    expect(row).to_have_attribute("data-delivery", "retrying")
    expect(row.locator(".msg-delivery")).to_contain_text("Not sent yet")
    expect(row.locator(".msg-delivery")).to_contain_text("Next try at")
    retry = row.locator("button.msg-retry")
    expect(retry).to_be_visible()

    platform.default = Reply(200, {"ok": True, "result": {"message_id": 9}})
    retry.click()
    expect(row).to_have_attribute("data-delivery", "sent")
    expect(row.locator(".msg-delivery")).to_have_count(0)
    expect(row.locator("button.msg-retry")).to_have_count(0)
    assert [r.json()["text"] for r in platform.accepted] == ["It is on its way."]
    assert OutboxItem.objects.get().state == "sent"

    # The customer's own message and a sent reply carry no "stored"/"sent" noise.
    expect(agent.locator("#con-messages .msg-delivery")).to_have_count(0)
