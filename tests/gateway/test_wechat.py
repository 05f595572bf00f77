"""WeChat official account adapter: signatures, safe-mode crypto checked against wechatpy, XML safety,
customer-service sends with access-token caching and refresh."""

from __future__ import annotations

import hashlib
import secrets
import time

import httpx
import pytest
import wechatpy
from wechatpy.crypto import WeChatCrypto

from gateway.base import OutboundMessage, PayloadInvalid, SendError, SignatureInvalid
from gateway.wechat import WeChatAdapter, WeChatCipher, xml_fields
from tests.gateway.conftest import Reply, inbox_info, make_request

TOKEN = "switchboard"
APP_ID = "wx0000000000000000"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
adapter = WeChatAdapter()


def wx_inbox(base_url: str = "https://wx.example", **config):
    return inbox_info(
        "wechat",
        config={"api_base_url": base_url, **config},
        credentials={"token": TOKEN, "app_id": APP_ID, "app_secret": "wx-secret", "encoding_aes_key": AES_KEY},
    )


def plain_query(timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
    """A signed query as WeChat sends it: the current time and a fresh nonce unless given."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    sig = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": sig, "timestamp": timestamp, "nonce": nonce, "openid": "oUser1"}


def wx_xml(kind: str, inner: str, *, msg_id: str = "1234567890123456", create_time: str = "1348831860") -> str:
    msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
    return (
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>{inner}{msg_id_xml}</xml>"
    )


def encrypted_request(xml: str, *, timestamp: str | None = None, nonce: str | None = None):
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**10))
    envelope = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, nonce, timestamp)
    fields = xml_fields(envelope)
    query = {**plain_query(timestamp, nonce), "encrypt_type": "aes", "msg_signature": fields["MsgSignature"]}
    body = (
        f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    )
    return make_request(query=query, body=body.encode(), headers={"Content-Type": "text/xml"})


def test_get_signature_handshake():
    good = adapter.handshake(wx_inbox(), make_request(method="GET", query={**plain_query(), "echostr": "echo-123"}))
    assert (good.status, good.body) == (200, "echo-123")
    bad = adapter.handshake(
        wx_inbox(), make_request(method="GET", query={**plain_query(), "signature": "0" * 40, "echostr": "x"})
    )
    assert bad.status == 403


def test_plain_mode_signature():
    body = wx_xml("text", "<Content><![CDATA[hi]]></Content>").encode()
    adapter.verify(wx_inbox(), make_request(query=plain_query(), body=body))
    with pytest.raises(SignatureInvalid):
        adapter.verify(wx_inbox(), make_request(query={**plain_query(), "signature": "f" * 40}, body=body))
    with pytest.raises(SignatureInvalid):
        adapter.verify(wx_inbox(encryption="safe"), make_request(query=plain_query(), body=body))


def test_safe_mode_decrypts_what_wechatpy_encrypts():
    xml = wx_xml("text", "<Content><![CDATA[你好, safe mode]]></Content>")
    request = encrypted_request(xml)
    adapter.verify(wx_inbox(encryption="safe"), request)
    (event,) = adapter.parse(wx_inbox(), request)
    assert adapter.message_from_payload(wx_inbox(), event.payload).text == "你好, safe mode"
    tampered = make_request(query={**request.query, "msg_signature": "0" * 40}, body=request.body)
    with pytest.raises(SignatureInvalid):
        adapter.verify(wx_inbox(), tampered)


def test_our_encryption_is_what_wechatpy_decrypts():
    xml = wx_xml("text", "<Content><![CDATA[round trip]]></Content>")
    cipher = WeChatCipher(AES_KEY, APP_ID)
    encrypted = cipher.encrypt(xml)
    timestamp, nonce = "1409735669", "n1"
    sig = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce, encrypted])).encode()).hexdigest()
    envelope = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    assert WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(envelope, sig, timestamp, nonce) == xml
    assert cipher.decrypt(encrypted) == xml
    with pytest.raises(PayloadInvalid):
        WeChatCipher(AES_KEY, "wx-other-app").decrypt(encrypted)


@pytest.mark.parametrize(
    ("kind", "inner", "msg_id", "text", "media"),
    [
        ("text", "<Content><![CDATA[this is a test]]></Content>", "1234567890123456", "this is a test", None),
        (
            "image",
            "<PicUrl><![CDATA[http://mmbiz.example/pic]]></PicUrl><MediaId><![CDATA[media_id_1]]></MediaId>",
            "2",
            "",
            ("image", "media_id_1"),
        ),
        (
            "voice",
            "<MediaId><![CDATA[media_v]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[hello]]></Recognition>",
            "3",
            "hello",
            ("voice", "media_v"),
        ),
        (
            "location",
            "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[Guangzhou]]></Label>",
            "4",
            "Location: 23.134521, 113.358803 (Guangzhou)",
            None,
        ),
        ("event", "<Event><![CDATA[subscribe]]></Event>", "", "(followed the official account)", None),
    ],
)
def test_inbound_types_match_wechatpy(kind, inner, msg_id, text, media):
    xml = wx_xml(kind, inner, msg_id=msg_id)
    (event,) = adapter.parse(wx_inbox(), make_request(query=plain_query(), body=xml.encode()))
    reference = wechatpy.parse_message(xml)
    assert event.sender_id == reference.source == "oUser1"
    assert event.sent_at == reference.create_time.astimezone(event.sent_at.tzinfo)
    assert event.platform_message_id == (msg_id or "event:oUser1:1348831860:subscribe")
    message = adapter.message_from_payload(wx_inbox(), event.payload)
    assert message.text == text
    assert ((message.media[0].kind, message.media[0].media_id) if message.media else None) == media


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol3;</Content></xml>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&xxe;</Content></xml>"""


@pytest.mark.parametrize("body", [BOMB, EXTERNAL, b"<xml><Content>unclosed</xml>", b"not xml at all", b"<root/>"])
def test_bad_xml_is_refused(body):
    with pytest.raises(PayloadInvalid):
        adapter.parse(wx_inbox(), make_request(query=plain_query(), body=body))


def test_send_caches_the_access_token_and_refreshes_it_once(stand_in):
    tokens = iter(["TOKEN-1", "TOKEN-2"])

    def answer(request):
        if request.path == "/cgi-bin/token":
            return Reply(200, {"access_token": next(tokens), "expires_in": 7200})
        if (
            request.query["access_token"] == ["TOKEN-1"]
            and len([r for r in stand_in.requests if r.path.endswith("send")]) == 2
        ):
            return Reply(200, {"errcode": 42001, "errmsg": "access_token expired"})
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    stand_in.default = answer
    inbox = wx_inbox(stand_in.url)
    message = OutboundMessage(message_id=1, conversation_id=1, recipient="oUser1", text="hello")
    with httpx.Client() as client:
        adapter.send(inbox, client, message)
        adapter.send(inbox, client, message)  # the cached TOKEN-1 has expired: refresh, then send
        adapter.send(inbox, client, message)  # TOKEN-2 from the cache
    calls = [(r.path, r.query.get("access_token", [""])[0]) for r in stand_in.requests]
    assert calls == [
        ("/cgi-bin/token", ""),
        ("/cgi-bin/message/custom/send", "TOKEN-1"),
        ("/cgi-bin/message/custom/send", "TOKEN-1"),
        ("/cgi-bin/token", ""),
        ("/cgi-bin/message/custom/send", "TOKEN-2"),
        ("/cgi-bin/message/custom/send", "TOKEN-2"),
    ]
    assert stand_in.requests[0].query == {
        "grant_type": ["client_credential"],
        "appid": [APP_ID],
        "secret": ["wx-secret"],
    }
    assert stand_in.requests[1].json() == {"touser": "oUser1", "msgtype": "text", "text": {"content": "hello"}}


def test_window_closed_is_a_permanent_error(stand_in):
    stand_in.default = lambda r: Reply(
        200,
        {"access_token": "T", "expires_in": 7200}
        if r.path == "/cgi-bin/token"
        else {"errcode": 45015, "errmsg": "response out of time limit"},
    )
    with httpx.Client() as client, pytest.raises(SendError) as error:
        adapter.send(
            wx_inbox(stand_in.url), client, OutboundMessage(message_id=1, conversation_id=1, recipient="o", text="x")
        )
    assert error.value.permanent and "48-hour" in error.value.reason
