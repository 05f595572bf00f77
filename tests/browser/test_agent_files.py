"""The agent sends files from the console: a PDF reaches the customer's widget as a download chip and a
PNG as a thumbnail; a file that lies about its type is refused with the server's reason on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from imsubsystem.models import Conversation, Message
from media.models import Attachment
from tests.browser.test_chat import (  # noqa: F401 (shop is a fixture)
    customer_send,
    log_in_agent,
    open_widget,
    pick_from_queue,
    shop,
    watch_dialogs,
)
from tests.factories.media import EXE_BYTES, PDF_BYTES, image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def attach(agent: Page, name: str, mime_type: str, data: bytes) -> None:
    agent.locator("#con-file").set_input_files({"name": name, "mimeType": mime_type, "buffer": data})


def test_the_agent_sends_a_pdf_and_an_image_to_the_widget(shop, live_server_url, new_context):  # noqa: F811
    customer = open_widget(new_context(), live_server_url)
    customer_dialogs = watch_dialogs(customer)
    agent = log_in_agent(new_context(), live_server_url)
    agent_dialogs = watch_dialogs(agent)

    customer_send(customer, "Can I have my invoice?")
    expect(customer.locator(".sbw-msg[data-seq='1']")).to_have_attribute("data-state", "sent")
    pick_from_queue(agent)
    conversation = Conversation.objects.get(inbox=shop["inbox"])

    # A staged file can be taken back before sending: nothing is sent for it.
    attach(agent, "wrong.pdf", "application/pdf", PDF_BYTES)
    chip = agent.locator("#con-staged .con-chip")
    expect(chip).to_have_attribute("data-state", "ready")
    chip.locator(".con-chip-remove").click()
    expect(agent.locator("#con-staged .con-chip")).to_have_count(0)

    attach(agent, "invoice <42>.pdf", "application/pdf", PDF_BYTES)
    expect(agent.locator("#con-staged .con-chip")).to_have_attribute("data-state", "ready")
    stored_name = Attachment.objects.exclude(original_name="wrong.pdf").get().original_name
    assert stored_name != "invoice <42>.pdf" and stored_name.endswith(".pdf")
    expect(agent.locator("#con-staged .con-chip-name")).to_have_text(stored_name)
    agent.locator("#con-input").fill("Here it is")
    agent.locator("#con-send").click()
    expect(agent.locator("#con-staged .con-chip")).to_have_count(0)
    expect(agent.locator("#con-messages .msg[data-state=sending]")).to_have_count(0)
    expect(agent.locator("#con-messages .msg[data-seq='2'] .msg-attachment")).to_contain_text(stored_name)

    download = customer.locator(".sbw-msg[data-seq='2'] a.sbw-attachment")
    expect(download).to_have_text("\U0001f4ce " + stored_name)
    fetched = customer.request.get(download.get_attribute("href"))
    assert fetched.status == 200 and fetched.body() == PDF_BYTES

    attach(agent, "photo.png", "image/png", image_bytes("PNG", (600, 400)))
    expect(agent.locator("#con-staged .con-chip img")).to_have_count(1)
    agent.locator("#con-input").focus()
    agent.locator("#con-input").press("Control+Enter")
    expect(agent.locator("#con-messages .msg[data-seq='3'] .msg-attachment img")).to_have_count(1)
    thumb = customer.locator(".sbw-msg[data-seq='3'] img.sbw-thumb")
    expect(thumb).to_be_visible()
    assert (
        customer.evaluate(
            """() => document.querySelector('[data-switchboard-widget]').shadowRoot
             .querySelector(".sbw-msg[data-seq='3'] img.sbw-thumb").naturalWidth"""
        )
        > 0
    )

    message = Message.objects.get(conversation=conversation, seq=2)
    pdf = Attachment.objects.get(pk=message.attachments[0])
    assert (pdf.original_name, pdf.uploader_kind, pdf.conversation_id) == (stored_name, "agent", conversation.pk)
    assert Message.objects.get(conversation=conversation, seq=3).text == ""
    assert Attachment.objects.filter(conversation_id=conversation.pk).count() == 2
    # The removed upload was never attached anywhere.
    assert Attachment.objects.filter(original_name="wrong.pdf", conversation_id__isnull=True).count() == 1

    # A program named like a PDF is refused with the server's reason, and nothing is staged.
    attach(agent, "report.pdf", "application/pdf", EXE_BYTES)
    error = agent.locator("#con-upload-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("report.pdf")
    assert error.text_content().strip() != "report.pdf:"
    expect(agent.locator("#con-staged .con-chip")).to_have_count(0)
    assert Attachment.objects.filter(original_name="report.pdf").count() == 0
    assert customer_dialogs == [] and agent_dialogs == []
