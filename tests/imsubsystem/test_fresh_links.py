"""Fresh attachment links for a history that outlived its signed links: the widget gets them for the
files of its own public messages only, the console for conversations the user may see; everything
else is left out, and every link says when it expires."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from imsubsystem.models import Conversation, Message
from tests.factories import ContactFactory, ConversationFactory
from tests.factories.media import AttachmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def message_with_file(conversation: Conversation, seq: int, *, private: bool = False, kind: str = "customer"):
    attachment = AttachmentFactory(conversation_id=conversation.pk)
    Message.objects.create(
        conversation=conversation,
        inbox=conversation.inbox,
        seq=seq,
        sender_kind=kind,
        text="",
        attachments=[attachment.pk],
        private=private,
    )
    return attachment.pk


def widget_links(token: str, ids: list) -> tuple[int, dict]:
    response = Client().post(
        "/api/v1/widget/attachments/links",
        json.dumps({"attachment_ids": ids}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ORIGIN="https://shop.example",
    )
    return response.status_code, response.json()


def test_the_widget_gets_fresh_links_for_its_own_public_files_only(inbox, widget_session):
    token, session = widget_session
    mine = ConversationFactory(inbox=inbox, contact_id=session.contact_id, status="closed", open_slot=None)
    own = message_with_file(mine, 1)
    note = message_with_file(mine, 2, private=True, kind="agent")
    other = ConversationFactory(inbox=inbox, contact=ContactFactory())
    foreign = message_with_file(other, 1)

    status, body = widget_links(token, [own, note, foreign, 999999])
    assert status == 200
    assert [a["id"] for a in body["attachments"]] == [own]
    (link,) = body["attachments"]
    assert link["url"] and link["expires_at"]
    assert Client().get(link["url"]).status_code == 200


def test_the_widget_refuses_a_bad_list(widget_session):
    token, _ = widget_session
    assert widget_links(token, "1,2")[0] == 400
    assert widget_links(token, [True])[0] == 400
    assert widget_links(token, list(range(101)))[0] == 400
    assert widget_links("not-a-token", [1])[0] == 401


def test_the_console_gets_links_for_conversations_the_user_may_see(inbox, make_agent):
    alice, bob = make_agent("alice"), make_agent("bob")
    hers = ConversationFactory(inbox=inbox, assignee=alice)
    his = ConversationFactory(inbox=inbox, assignee=bob)
    her_file = message_with_file(hers, 1)
    her_note = message_with_file(hers, 2, private=True, kind="agent")
    his_file = message_with_file(his, 1)
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/api/v1/agent/attachments/links",
        json.dumps({"attachment_ids": [her_file, her_note, his_file]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["attachments"]] == [her_file, her_note]
    assert all(a["expires_at"] for a in response.json()["attachments"])
    bad = client.post(
        "/api/v1/agent/attachments/links", json.dumps({"attachment_ids": "x"}), content_type="application/json"
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_fresh_links_are_throttled_per_session_and_per_user(inbox, widget_session, make_agent, settings):
    from imsubsystem import selectors

    token, _ = widget_session
    statuses = [widget_links(token, [1])[0] for _ in range(selectors.LINKS_PER_MINUTE + 1)]
    assert statuses[:-1] == [200] * selectors.LINKS_PER_MINUTE and statuses[-1] == 429
    client = Client()
    client.force_login(make_agent("linker"))
    answers = [
        client.post(
            "/api/v1/agent/attachments/links", json.dumps({"attachment_ids": [1]}), content_type="application/json"
        )
        for _ in range(selectors.LINKS_PER_MINUTE + 1)
    ]
    assert [a.status_code for a in answers[:-1]] == [200] * selectors.LINKS_PER_MINUTE
    assert answers[-1].status_code == 429 and answers[-1]["Retry-After"] == "60"
