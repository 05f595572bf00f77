"""Admin pages, the demo seed and the CRM contact panel."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.roles import AGENT
from imsubsystem import demo, services
from imsubsystem.models import CannedResponse, Conversation, Inbox
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_seed_is_idempotent_and_stores_the_contract_secrets():
    demo.seed()
    demo.seed()
    assert set(Inbox.objects.values_list("key", flat=True)) == {
        "demo",
        "demo-after-hours",
        "demo-telegram",
        "demo-whatsapp",
        "demo-wechat",
        "demo-twilio",
        "demo-api",
    }
    assert Inbox.objects.get(key="demo-whatsapp").credentials["verify_token"] == "switchboard-demo-verify"
    assert Inbox.objects.get(key="demo-wechat").credentials["encoding_aes_key"].startswith("abcdefghij")
    assert Inbox.objects.get(key="demo-twilio").kind == "sms"
    assert {i.default_queue.name for i in Inbox.objects.select_related("default_queue")} == {"Support"}
    assert CannedResponse.objects.filter(owner=None).count() == len(demo.DEMO_CANNED)


def test_admin_shows_the_webhook_url_and_conversation_messages(admin_client_role, inbox):
    demo.seed()
    telegram = Inbox.objects.get(key="demo-telegram")
    page = admin_client_role.get(f"/admin/imsubsystem/inbox/{telegram.pk}/change/")
    assert page.status_code == 200 and "/gateway/telegram/demo-telegram/" in page.content.decode()
    sms = Inbox.objects.get(key="demo-twilio")
    assert (
        "/gateway/twilio/demo-twilio/"
        in admin_client_role.get(f"/admin/imsubsystem/inbox/{sms.pk}/change/").content.decode()
    )
    message, _ = services.customer_message_send(
        inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="<script>alert(1)</script>"
    )
    listing = admin_client_role.get("/admin/imsubsystem/conversation/?q=alert")
    assert listing.status_code == 200 and f">{message['conversation_id']}<" in listing.content.decode()
    detail = admin_client_role.get(
        f"/admin/imsubsystem/conversation/{message['conversation_id']}/change/"
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail and "<script>alert(1)" not in detail


def test_supervisors_see_inboxes_but_not_their_secrets(supervisor_client):
    demo.seed()
    telegram = Inbox.objects.get(key="demo-telegram")
    page = supervisor_client.get(f"/admin/imsubsystem/inbox/{telegram.pk}/change/").content.decode()
    assert "demo-telegram" in page and "switchboard-demo-secret" not in page


def test_the_contact_record_lists_the_contacts_conversations(agent_client, agent, inbox):
    contact = ContactFactory()
    message, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi")
    services.conversation_assign(conversation_id=message["conversation_id"], agent_id=agent.pk)
    services.conversation_close(conversation_id=message["conversation_id"], wrap_up="Sent the <b>invoice</b>")
    page = agent_client.get(contact.get_absolute_url()).content.decode()
    assert "Conversations" in page and inbox.name in page
    assert "Sent the &lt;b&gt;invoice&lt;/b&gt;" in page
    assert Conversation.objects.get().contact_id == contact.pk
    # Another agent sees the contact, not conversations they may not see (the one visibility rule).
    other = Client()
    other.force_login(UserFactory(username="agent-other", role=AGENT))
    page = other.get(contact.get_absolute_url()).content.decode()
    assert contact.display_name in page and "invoice" not in page
