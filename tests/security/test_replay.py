"""Signed webhooks cannot be replayed: a platform's signed timestamp must be within the replay window
(GATEWAY_REPLAY_WINDOW_S, 300 s) and its nonce is remembered in Redis for as long.

WeChat signs only token, timestamp and nonce (plus the Encrypt blob in safe mode), never the plain
body: a captured request could be replayed forever, with any sender and text. Requests here are built
with wechatpy's own signer and crypto, and go through the real view, Redis and MySQL.
"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlencode

import pytest
import redis
from django.conf import settings
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from gateway.api import signed_body
from gateway.models import InboundEvent
from imsubsystem.models import Message
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

TOKEN = "switchboard"
APP_ID = "wx0000000000000000"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
A_DAY_IN_2001 = 1_000_000_000


@pytest.fixture(autouse=True)
def wechat_inbox(db):
    return InboxFactory(
        kind="wechat",
        key="wx-replay",
        config={},
        credentials={"token": TOKEN, "app_id": APP_ID, "app_secret": "s", "encoding_aes_key": AES_KEY},
    )


def wx_xml(sender: str, text: str, msg_id: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def plain_post(client, xml: str, *, timestamp: int, nonce: str):
    signer = WeChatSigner()
    signer.add_data(TOKEN, str(timestamp), nonce)
    query = urlencode({"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, "openid": "o"})
    return client.post(f"/gateway/wechat/wx-replay/?{query}", xml.encode(), content_type="text/xml")


def safe_post(client, xml: str, *, timestamp: int, nonce: str):
    envelope = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, nonce, str(timestamp))
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    msg_signature = envelope.split("<MsgSignature><![CDATA[", 1)[1].split("]]>", 1)[0]
    signer = WeChatSigner()
    signer.add_data(TOKEN, str(timestamp), nonce)
    query = urlencode(
        {
            "signature": signer.signature,
            "timestamp": timestamp,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": msg_signature,
        }
    )
    body = f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return client.post(f"/gateway/wechat/wx-replay/?{query}", body.encode(), content_type="text/xml")


def error_code(response) -> str:
    return json.loads(response.content)["error"]["code"]


def nonce() -> str:
    return str(secrets.randbelow(10**10))


@pytest.mark.parametrize("post", [plain_post, safe_post], ids=["plain", "safe"])
def test_a_request_signed_in_2001_is_refused_and_stores_nothing(client, post):
    response = post(client, wx_xml("oVictim", "old news", "1001"), timestamp=A_DAY_IN_2001, nonce=nonce())
    assert response.status_code == 403
    assert error_code(response) == "stale_timestamp"
    assert InboundEvent.objects.count() == 0 and Message.objects.count() == 0


@pytest.mark.parametrize("post", [plain_post, safe_post], ids=["plain", "safe"])
def test_a_timestamp_just_past_the_window_either_way_is_refused(client, post):
    now = int(time.time())
    for stamp in (now - 310, now + 310):
        response = post(client, wx_xml("oA", "hi", f"20{stamp}"), timestamp=stamp, nonce=nonce())
        assert (response.status_code, error_code(response)) == (403, "stale_timestamp")
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize("post", [plain_post, safe_post], ids=["plain", "safe"])
def test_a_fresh_request_is_stored(client, post, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, wx_xml("oAda", "hello", "3001"), timestamp=int(time.time()) - 200, nonce=nonce())
    assert (response.status_code, response.content) == (200, b"success")
    assert Message.objects.get().text == "hello"


@pytest.mark.parametrize("post", [plain_post, safe_post], ids=["plain", "safe"])
def test_the_same_nonce_with_another_sender_and_text_is_refused(client, post, django_capture_on_commit_callbacks):
    """The attack as reported: a genuine request, replayed with its signature and another body."""
    stamp, used = int(time.time()), nonce()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, wx_xml("oAda", "real", "4001"), timestamp=stamp, nonce=used).status_code == 200
        forged = post(client, wx_xml("oMallory", "send my refund to ...", "4002"), timestamp=stamp, nonce=used)
    assert forged.status_code == 403
    assert error_code(forged) == "replayed"
    assert list(InboundEvent.objects.values_list("sender_id", flat=True)) == ["oAda"]
    assert list(Message.objects.values_list("text", flat=True)) == ["real"]


def test_the_url_check_answers_only_fresh_requests(client):
    def get(timestamp: int):
        signer = WeChatSigner()
        signer.add_data(TOKEN, str(timestamp), "42")
        query = urlencode({"signature": signer.signature, "timestamp": timestamp, "nonce": "42", "echostr": "e-1"})
        return client.get(f"/gateway/wechat/wx-replay/?{query}")

    assert (get(int(time.time())).status_code, get(int(time.time())).content) == (200, b"e-1")
    assert get(A_DAY_IN_2001).status_code == 403


def test_the_platforms_own_retry_of_the_same_bytes_is_a_no_op(client, django_capture_on_commit_callbacks):
    stamp, used, xml = int(time.time()), nonce(), wx_xml("oAda", "once", "5001")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            assert plain_post(client, xml, timestamp=stamp, nonce=used).content == b"success"
    assert InboundEvent.objects.count() == 1 and Message.objects.count() == 1


def test_the_nonce_lives_in_redis_for_the_window_only(client, settings):
    settings.GATEWAY_REPLAY_WINDOW_S = 60
    stamp = int(time.time())
    assert plain_post(client, wx_xml("oA", "x", "6001"), timestamp=stamp - 90, nonce=nonce()).status_code == 403
    assert plain_post(client, wx_xml("oA", "x", "6002"), timestamp=stamp, nonce=nonce()).status_code == 200
    store = redis.Redis.from_url(settings.REDIS_URL)
    (key,) = store.keys("*gateway:nonce:*")
    assert 0 < store.ttl(key) <= 61
    store.close()


def test_api_channel_stale_refused_fresh_accepted_and_nonce_remembered(client, django_capture_on_commit_callbacks):
    InboxFactory(
        kind="api", key="api-replay", config={"callback_url": "https://c.example/"}, credentials={"secret": "k"}
    )

    def post(body: bytes, headers: dict[str, str]):
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"}
        return client.post("/gateway/api/api-replay/", body, content_type="application/json", **extra)

    message = {"type": "message", "id": "m-1", "sender": {"id": "u-1"}, "text": "hello"}
    stale = post(*signed_body("k", message, now=A_DAY_IN_2001))
    assert (stale.status_code, error_code(stale)) == (403, "stale_timestamp")
    body, headers = signed_body("k", message)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(body, headers).status_code == 200
        assert post(body, headers).status_code == 200  # the connector's retry: acknowledged, stored once
    assert Message.objects.count() == 1
    assert redis.Redis.from_url(settings.REDIS_URL).keys("*gateway:nonce:*")
