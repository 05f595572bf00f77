"""The visitor context beside a conversation: in the integrator API's conversation detail and in the console's
contact panel, for those who may see the conversation only; and the "verified" mark of an identified visitor."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from crm.models import ChannelKind
from crm.services import identity_get_or_create, identity_verify
from imsubsystem.models import WidgetSession
from imsubsystem.visitor import visitor_context_check, widget_session_context_set
from tests.api.scene_conversations import BASE, assigned_conversation, build_teams

pytestmark = pytest.mark.django_db
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scene(db, django_capture_on_commit_callbacks):
    scene = build_teams()
    commit = django_capture_on_commit_callbacks
    scene["mine"] = assigned_conversation(scene["sales_inbox"], scene["ag_a"], by=scene["admin"], commit=commit)
    conversation = scene["mine"]
    session = WidgetSession.objects.create(
        token_hash="0" * 64, contact_id=conversation.contact_id, inbox_id=conversation.inbox_id
    )
    checked = visitor_context_check(
        {
            "url": "https://shop.example/cart",
            "title": "<b>Cart</b>",
            "language": "de",
            "timezone": "Europe/Berlin",
            "custom_attributes": {"plan": "gold", "vip": True},
        }
    )
    widget_session_context_set(session=session, context=checked, user_agent=FIREFOX)
    return scene


def test_the_conversation_detail_carries_the_visitor_context(scene, make_api_client):
    body = make_api_client(scene["admin"]).get(f"{BASE}/conversations/{scene['mine'].pk}").json()
    visitor = body["visitor"]
    assert visitor["url"] == "https://shop.example/cart" and visitor["title"] == "<b>Cart</b>"
    assert (visitor["browser"], visitor["os"]) == ("Firefox 121", "Linux")
    assert (visitor["language"], visitor["timezone"]) == ("de", "Europe/Berlin")
    assert visitor["custom_attributes"] == {"plan": "gold", "vip": True}
    assert [p["url"] for p in visitor["pages"]] == ["https://shop.example/cart"]
    # The list stays as it was (additive: the detail only).
    listed = make_api_client(scene["admin"]).get(f"{BASE}/conversations").json()
    assert all("visitor" not in row for row in listed["results"])


def test_another_teams_agent_sees_neither_the_conversation_nor_its_visitor(scene, make_api_client, client):
    assert make_api_client(scene["ag_b"]).get(f"{BASE}/conversations/{scene['mine'].pk}").status_code == 404
    client.force_login(scene["ag_b"])
    assert client.get(f"/api/v1/agent/conversations/{scene['mine'].pk}/contact").status_code == 404


def test_the_console_contact_panel_shows_the_visitor_and_the_verified_mark(scene, client):
    conversation = scene["mine"]
    client.force_login(scene["ag_a"])
    contact = client.get(f"/api/v1/agent/conversations/{conversation.pk}/contact").json()["contact"]
    assert contact["visitor"]["browser"] == "Firefox 121" and contact["visitor"]["title"] == "<b>Cart</b>"
    assert contact["verified"] is False

    identity, _ = identity_get_or_create(kind=ChannelKind.WEB, external_id="user:1:someone-else")
    identity.contact = conversation.contact
    identity.save()
    identity_verify(identity=identity)
    contact = client.get(f"/api/v1/agent/conversations/{conversation.pk}/contact").json()["contact"]
    assert contact["verified"] is True
    assert [i["verified"] for i in contact["identities"] if i["external_id"] == "user:1:someone-else"] == [True]
