"""Text that cannot be stored (a lone UTF-16 surrogate, valid in JSON) is refused with `invalid` at every
edge a person or integrator writes through, and kept as U+FFFD from platforms that already accepted it.
It never reaches MySQL, where it fails the write it is part of (and with it everyone else's)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from core.text import json_clean, json_unstorable_path, text_clean, text_storable
from crm.models import Contact, ContactIdentity, Note
from gateway.api import sign
from gateway.models import InboundEvent
from imsubsystem import services
from imsubsystem.events import FrameError, frame_validate
from imsubsystem.models import Message
from imsubsystem.services import SwitchError
from media.names import name_sanitize
from supervisor.models import Team
from tests.factories import ContactFactory, InboxFactory
from tests.gateway.conftest import stand_in  # noqa: F401 - fixtures of the switch's own tests
from tests.gateway.test_wechat import plain_query
from tests.gateway.test_whatsapp import signed as wa_signed
from tests.gateway.test_whatsapp import wa_message, webhook_body
from tests.imsubsystem.conftest import (  # noqa: F401
    _no_bots,
    frame_log,
    inbox,
    make_agent,
    queue,
    receive_until,
    routing_backend,
    staff_communicator,
    supervisor_user,
    widget_communicator,
    widget_session,
)

LONE = "\ud800"  # a lone high surrogate, as json.loads makes it from "\ud800"
RAW = "\\ud800"  # the same as it travels in JSON


def test_the_one_check_finds_lone_surrogates_and_passes_real_text():
    assert text_storable("Grüße 😀 日本") and not text_storable(f"a{LONE}b")
    # A pair escaped in JSON is one character once decoded: storable.
    pair = json.loads('{"t": "\\ud83d\\ude00"}')
    assert pair == {"t": "😀"} and json_unstorable_path(pair) is None
    decoded = json.loads(f'{{"a": [1, {{"b": "x{RAW}"}}], "ok": "fine"}}')
    assert json_unstorable_path(decoded) == "a[1].b"
    assert json_unstorable_path({f"k{LONE}": 1}) == "key"
    assert text_clean(f"a{LONE}b\udfffc😀") == "a\ufffdb\ufffdc😀"
    assert json_clean({f"k{LONE}": [f"v{LONE}"]}) == {"k\ufffd": ["v\ufffd"]}
    with pytest.raises(FrameError) as refused:
        frame_validate({"type": "message.send", "client_id": "c", "text": f"x{LONE}"}, direction="client")
    assert refused.value.code == "invalid" and "text" in refused.value.detail
    # File names: media's one gate for names already drops surrogates.
    assert text_storable(name_sanitize(f"report{LONE}.pdf"))


@pytest.mark.django_db
def test_every_service_that_stores_text_refuses_it(inbox, make_agent):
    """The switch's own check: bots, the gateway's templates, supervisors and every transport call these."""
    contact = ContactFactory()
    with pytest.raises(SwitchError) as refused:
        services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=f"hi {LONE}", client_id="c1")
    assert refused.value.code == "invalid"
    first, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi", client_id="c2")
    conversation_id = first["conversation_id"]
    agent = make_agent("a-text")
    for kwargs in (
        {"sender_kind": "agent", "sender_user_id": agent.pk, "text": f"x{LONE}"},
        {"sender_kind": "agent", "sender_user_id": agent.pk, "text": "x", "client_id": f"id{LONE}"},
        {"sender_kind": "bot", "text": "Pick", "buttons": [{"label": f"A{LONE}", "value": "1"}]},
    ):
        with pytest.raises(SwitchError) as refused:
            services.message_send(conversation_id=conversation_id, **kwargs)
        assert refused.value.code == "invalid"
    with pytest.raises(SwitchError) as refused:
        services.conversation_close(conversation_id=conversation_id, wrap_up=f"done {LONE}")
    assert refused.value.code == "invalid"
    [result] = services.customer_messages_send_many(
        requests=[
            {
                "inbox_id": inbox.pk,
                "contact_id": contact.pk,
                "conversation_id": conversation_id,
                "text": f"x{LONE}",
                "client_id": "c3",
            }
        ]
    )
    assert result["error"] == "invalid"
    assert list(Message.objects.values_list("client_id", flat=True)) == ["c2"]


# --- sockets ------------------------------------------------------------------------------------------
async def _widget(token):
    communicator = widget_communicator()
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"type": "auth", "token": token, "after_seq": 0}))
    await receive_until(communicator, "ready")
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_widget_socket_refuses_it_and_stays_open(widget_session):
    token, _ = widget_session
    communicator = await _widget(token)
    await communicator.send_to(text_data=f'{{"type":"message.send","client_id":"bad-1","text":"a {RAW} b"}}')
    error = await receive_until(communicator, "error")
    assert (error["code"], error["client_id"], error["command"]) == ("invalid", "bad-1", "message.send")
    # A poisoned client_id is refused and not echoed back.
    await communicator.send_to(text_data=f'{{"type":"message.send","client_id":"c{RAW}","text":"hello"}}')
    error = await receive_until(communicator, "error")
    assert error["code"] == "invalid" and "client_id" not in error
    await communicator.send_to(text_data='{"type":"message.send","client_id":"good-1","text":"hello"}')
    ack = await receive_until(communicator, "message.ack")
    assert ack["client_id"] == "good-1"
    # Also in the batched path (the socket is now in its conversation).
    await communicator.send_to(text_data=f'{{"type":"message.send","client_id":"bad-2","text":"{RAW}"}}')
    assert (await receive_until(communicator, "error"))["code"] == "invalid"
    await communicator.disconnect()
    stored = await database_sync_to_async(lambda: list(Message.objects.values_list("client_id", flat=True)))()
    assert stored == ["good-1"]


@pytest.mark.django_db(transaction=True)
async def test_agent_socket_refuses_it(inbox, make_agent, supervisor_user):
    contact = await database_sync_to_async(ContactFactory)()
    first, _ = await database_sync_to_async(services.customer_message_send)(
        inbox_id=inbox.pk, contact_id=contact.pk, text="help"
    )
    communicator = await database_sync_to_async(staff_communicator)(supervisor_user)
    assert (await communicator.connect())[0]
    await receive_until(communicator, "agent.ready")
    conversation_id = first["conversation_id"]
    for frame in (
        f'{{"type":"message.send","conversation_id":{conversation_id},"client_id":"n1","text":"{RAW}","private":true}}',
        f'{{"type":"conversation.close","conversation_id":{conversation_id},"wrap_up":"{RAW}"}}',
    ):
        await communicator.send_to(text_data=frame)
        assert (await receive_until(communicator, "error"))["code"] == "invalid"
    await communicator.disconnect()
    assert await database_sync_to_async(Message.objects.count)() == 1


# --- HTTP -----------------------------------------------------------------------------------------------
def _post_json(client, url, raw: str, **headers):
    return client.post(url, raw.encode(), content_type="application/json", **headers)


@pytest.mark.django_db
def test_widget_http_refuses_it_with_400_invalid(inbox, widget_session):
    client = Client()
    origin = {"HTTP_ORIGIN": "https://shop.example"}
    for raw in (
        f'{{"name":"Vera {RAW}"}}',
        f'{{"email":"v{RAW}@example.org"}}',
        f'{{"metadata":{{"page":"{RAW}"}}}}',
        f'{{"metadata":{{"k{RAW}":"v"}}}}',
    ):
        response = _post_json(client, "/api/v1/widget/shop/sessions", raw, **origin)
        assert response.status_code == 400, raw
        assert response.json()["error"]["code"] == "invalid"
    assert Contact.objects.count() == 1  # the fixture's visitor only
    token, _ = widget_session
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", **origin}
    response = _post_json(client, "/api/v1/widget/messages", f'{{"client_id":"c1","text":"x {RAW}"}}', **auth)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    response = _post_json(client, "/api/v1/widget/messages", f'{{"client_id":"c{RAW}","text":"x"}}', **auth)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_console_and_supervisor_http_refuse_it(inbox, supervisor_user):
    contact = ContactFactory(name="Before")
    first, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="help")
    conversation_id = first["conversation_id"]
    # The supervisor's team holds the queue, so the one visibility rule lets them see the conversation.
    team = Team.objects.create(name="Support team")
    team.supervisors.set([supervisor_user])
    team.queues.set([inbox.default_queue])
    client = Client()
    client.force_login(supervisor_user)
    base = f"/api/v1/agent/conversations/{conversation_id}"
    for url, raw in (
        (f"{base}/contact", f'{{"name":"After {RAW}"}}'),
        (f"{base}/contact", f'{{"emails":["a{RAW}@example.org"]}}'),
        (f"{base}/contact/notes", f'{{"body":"note {RAW}"}}'),
        (f"{base}/template", f'{{"name":"t","language":"en","params":["{RAW}"]}}'),
        (f"/supervisor/api/conversations/{conversation_id}/notes", f'{{"text":"whisper {RAW}"}}'),
    ):
        response = _post_json(client, url, raw)
        assert response.status_code == 400, (url, response.status_code, response.content[:200])
        assert response.json()["error"]["code"] == "invalid", url
    contact.refresh_from_db()
    assert contact.name == "Before" and Note.objects.count() == 0 and Message.objects.count() == 1


# --- platforms ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_platform_text_is_kept_with_a_replacement_character(client, django_capture_on_commit_callbacks):
    """Telegram, WhatsApp (several messages in one webhook, one of them poisoned) and the API channel: every
    message is stored, the lone surrogate replaced with U+FFFD in the text and the sender's name."""
    InboxFactory(kind="telegram", key="tg-x", config={}, credentials={"bot_token": "1:A", "secret_token": "s3"})
    InboxFactory(
        kind="whatsapp",
        key="wa-x",
        config={"phone_number_id": "106540352242922"},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "v"},
    )
    api = InboxFactory(kind="api", key="api-x", config={}, credentials={"secret": "api-secret"})
    update = {
        "update_id": 9001,
        "message": {
            "message_id": 5,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": 77, "type": "private"},
            "from": {"id": 77, "is_bot": False, "first_name": f"Ada{LONE}"},
            "text": f"broken {LONE} emoji",
        },
    }
    wa_body = webhook_body(
        messages=[
            wa_message("text", {"body": f"first {LONE}"}, mid="wamid.one"),
            wa_message("text", {"body": "second, clean"}, mid="wamid.two"),
        ],
        name=f"Kerry {LONE}",
    )
    stamp = int(time.time())
    api_body = json.dumps(
        {
            "type": "message",
            "id": "e1",
            "sender": {"id": "u1", "name": f"N{LONE}"},
            "text": f"t{LONE}",
            "timestamp": stamp,
        }
    ).encode()
    api_headers = {"X-Switchboard-Signature": sign("api-secret", api_body), "X-Switchboard-Timestamp": str(stamp)}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/gateway/telegram/tg-x/",
            json.dumps(update).encode(),  # ensure_ascii: the surrogate travels as \ud800
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s3",
        )
        assert response.status_code == 200
        response = client.post(
            "/gateway/whatsapp/wa-x/",
            wa_body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=wa_signed(wa_body)["X-Hub-Signature-256"],
        )
        assert response.status_code == 200
        response = client.post(
            "/gateway/api/api-x/",
            api_body,
            content_type="application/json",
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in api_headers.items()},
        )
        assert response.status_code == 200, response.content
    assert sorted(Message.objects.values_list("text", flat=True)) == [
        "broken \ufffd emoji",
        "first \ufffd",
        "second, clean",
        "t\ufffd",
    ]
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert not InboundEvent.objects.exclude(error="").exists()
    names = set(ContactIdentity.objects.values_list("display_name", flat=True))
    assert names == {"Ada\ufffd", "Kerry \ufffd", "N\ufffd"}
    assert api.pk


@pytest.mark.django_db
def test_wechat_xml_cannot_carry_one(client):
    InboxFactory(
        kind="wechat",
        key="wx-x",
        config={},
        credentials={
            "token": "switchboard",
            "app_id": "wx0",
            "app_secret": "s",
            "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        },
    )
    body = (
        b"<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
        b"<MsgType>text</MsgType><Content>&#xD800;</Content><MsgId>1</MsgId></xml>"
    )
    query = "&".join(f"{k}={v}" for k, v in plain_query().items())
    response = client.post(f"/gateway/wechat/wx-x/?{query}", body, content_type="text/xml")
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0
