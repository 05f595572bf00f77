"""History keeps working after its links expire: attachment links are signed for MEDIA_URL_TTL seconds
(4 here), and both clients ask for fresh ones: the widget when it redraws a kept history after a reload,
both when an image answers 403 or an expired download link is clicked."""

from __future__ import annotations

import os
import time

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.test_chat import (  # noqa: F401 (shop is a fixture)
    customer_send,
    log_in_agent,
    open_widget,
    pick_from_queue,
    shop,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TTL_S = 4


@pytest.fixture(scope="module")
def short_links():
    """The module's daphne signs links for TTL_S seconds (read when live_server_url starts it)."""
    previous = os.environ.get("MEDIA_URL_TTL")
    os.environ["MEDIA_URL_TTL"] = str(TTL_S)
    yield
    if previous is None:
        os.environ.pop("MEDIA_URL_TTL", None)
    else:
        os.environ["MEDIA_URL_TTL"] = previous


def wait_until_expired(request_context, url: str) -> None:
    for _ in range(100):
        if request_context.get(url).status == 403:
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} never expired")


def widget_image_width(page) -> int:
    return page.evaluate(
        """() => { const img = document.querySelector('[data-switchboard-widget]').shadowRoot
             .querySelector(".sbw-msg[data-seq='2'] img.sbw-thumb");
             return img && img.complete ? img.naturalWidth : 0; }"""
    )


def test_the_customer_s_own_image_survives_expired_links_and_a_reload(
    short_links,
    shop,  # noqa: F811
    live_server_url,
    new_context,
    tmp_path,
):
    image_path = tmp_path / "parcel.png"
    Image.new("RGB", (40, 30), (200, 80, 40)).save(image_path)
    customer = open_widget(new_context(), live_server_url)
    agent = log_in_agent(new_context(), live_server_url)
    customer_send(customer, "My parcel arrived damaged")
    pick_from_queue(agent)
    customer.locator(".sbw-file").set_input_files(str(image_path))
    expect(customer.locator(".sbw-staged .sbw-chip")).to_contain_text("parcel.png")
    customer.locator(".sbw-input").press("Enter")
    thumb = customer.locator(".sbw-msg[data-seq='2'] img.sbw-thumb")
    expect(thumb).to_be_visible()
    old_link = customer.locator(".sbw-msg[data-seq='2'] a.sbw-attachment").get_attribute("href")
    agent_link = agent.locator("#con-messages .msg[data-seq='2'] a.msg-attachment")
    expect(agent_link).to_have_count(1)
    old_agent_href = agent_link.get_attribute("href")

    wait_until_expired(customer.request, old_link)

    # The widget redraws its kept history after a reload: the image loads from a fresh link.
    customer.reload()
    if not customer.locator(".sbw-panel").is_visible():
        customer.locator(".sbw-launcher").click()
    expect(thumb).to_be_visible()
    expect(customer.locator(".sbw-msg[data-seq='2'] a.sbw-attachment")).not_to_have_attribute("href", old_link)
    for _ in range(50):
        if widget_image_width(customer) == 40:
            break
        time.sleep(0.1)
    assert widget_image_width(customer) == 40
    fresh = customer.locator(".sbw-msg[data-seq='2'] a.sbw-attachment").get_attribute("href")
    assert customer.request.get(fresh).status == 200

    # The console's thread outlived its link: clicking it opens a fresh one, which works.
    with agent.context.expect_page() as opened:
        agent_link.click()
    page = opened.value
    page.wait_for_load_state()
    assert page.url != old_agent_href
    assert agent.request.get(page.url).status == 200
    assert agent_link.get_attribute("href") != old_agent_href
