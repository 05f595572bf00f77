"""Twilio adapter: X-Twilio-Signature checked against twilio's own RequestValidator, SMS/MMS/WhatsApp in, sends."""

from __future__ import annotations

import base64

import httpx
import pytest
from twilio.request_validator import RequestValidator

from gateway.base import OutboundMessage, SendError, SignatureInvalid
from gateway.twilio import TwilioAdapter, twilio_signature
from tests.gateway.conftest import Reply, inbox_info, make_request

AUTH_TOKEN = "twilio-auth-token"
URL = "https://switchboard.example/gateway/twilio/demo-twilio/"
adapter = TwilioAdapter()


def tw_inbox(kind: str = "sms", base_url: str = "https://twilio.example"):
    return inbox_info(
        kind,
        config={"api_base_url": base_url, "from_number": "+15005550006", "provider": "twilio"},
        credentials={"account_sid": "AC123", "auth_token": AUTH_TOKEN},
    )


def sms_form(**extra) -> tuple[tuple[str, str], ...]:
    form = {
        "ToCountry": "US",
        "SmsMessageSid": "SM8f1",
        "NumMedia": "0",
        "SmsSid": "SM8f1",
        "SmsStatus": "received",
        "Body": "Is the store open today?",
        "To": "+15005550006",
        "NumSegments": "1",
        "MessageSid": "SM8f1",
        "AccountSid": "AC123",
        "From": "+14155550123",
        "ApiVersion": "2010-04-01",
        **extra,
    }
    return tuple(form.items())


def signed_request(form, url: str = URL):
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, dict(form))
    return make_request(url=url, form=form, headers={"X-Twilio-Signature": signature})


def test_our_signature_is_twilios():
    form = sms_form()
    assert twilio_signature(AUTH_TOKEN, URL, form) == RequestValidator(AUTH_TOKEN).compute_signature(URL, dict(form))
    assert RequestValidator(AUTH_TOKEN).validate(URL, dict(form), twilio_signature(AUTH_TOKEN, URL, form))


def test_signature_accepted_and_refused():
    form = sms_form()
    adapter.verify(tw_inbox(), signed_request(form))
    # Twilio signs the URL it was given; a proxy adding :443 must not break it.
    adapter.verify(tw_inbox(), signed_request(form, URL.replace(".example/", ".example:443/")))
    request = signed_request(form)
    tampered = make_request(url=URL, form=(*form[:-1], ("ApiVersion", "2099")), headers=dict(request.headers))
    with pytest.raises(SignatureInvalid):
        adapter.verify(tw_inbox(), tampered)
    with pytest.raises(SignatureInvalid):
        adapter.verify(tw_inbox(), make_request(url=URL + "other/", form=form, headers=dict(request.headers)))
    with pytest.raises(SignatureInvalid):
        adapter.verify(tw_inbox(), make_request(url=URL, form=form))


def test_sms_and_mms_in():
    form = sms_form(
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/m/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/m/ME2",
        MediaContentType1="application/pdf",
    )
    (event,) = adapter.parse(tw_inbox(), signed_request(form))
    assert event.platform_message_id == "SM8f1" and event.event_kind == "message"
    message = adapter.message_from_payload(tw_inbox(), event.payload)
    assert message.text == "Is the store open today?"
    assert message.identity_kind == "sms" and message.sender_id == "+14155550123"
    assert [(m.kind, m.url, m.content_type) for m in message.media] == [
        ("image", "https://api.twilio.com/m/ME1", "image/jpeg"),
        ("document", "https://api.twilio.com/m/ME2", "application/pdf"),
    ]


def test_whatsapp_through_twilio_uses_the_wa_id():
    form = sms_form(From="whatsapp:+14155550123", To="whatsapp:+15005550006", ProfileName="Grace", WaId="14155550123")
    (event,) = adapter.parse(tw_inbox("whatsapp"), signed_request(form))
    message = adapter.message_from_payload(tw_inbox("whatsapp"), event.payload)
    assert (message.identity_kind, message.sender_id, message.sender_name) == ("whatsapp", "14155550123", "Grace")


def test_status_callback():
    form = (
        ("MessageSid", "SMout"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30006"),
        ("To", "+14155550123"),
        ("From", "+15005550006"),
        ("AccountSid", "AC123"),
    )
    (event,) = adapter.parse(tw_inbox(), signed_request(form))
    assert event.event_kind == "status" and event.platform_message_id == "status:SMout:undelivered"
    report = adapter.status_from_payload(tw_inbox(), event.payload)
    assert report.status == "failed" and "30006" in report.error


def test_send_sms_and_whatsapp(stand_in):
    stand_in.default = Reply(201, {"sid": "SMsent1", "status": "queued"})
    with httpx.Client() as client:
        result = adapter.send(
            tw_inbox(base_url=stand_in.url),
            client,
            OutboundMessage(
                message_id=1,
                conversation_id=1,
                recipient="+14155550123",
                text="Open 9-5",
                attachments=({"url": "https://f.example/map.png"},),
            ),
        )
        adapter.send(
            tw_inbox("whatsapp", stand_in.url),
            client,
            OutboundMessage(message_id=2, conversation_id=1, recipient="14155550123", text="hi"),
        )
    assert result.platform_message_id == "SMsent1"
    sms, wa = stand_in.requests
    assert sms.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert sms.headers["Authorization"] == "Basic " + base64.b64encode(f"AC123:{AUTH_TOKEN}".encode()).decode()
    assert sms.form() == {
        "To": ["+14155550123"],
        "From": ["+15005550006"],
        "Body": ["Open 9-5"],
        "MediaUrl": ["https://f.example/map.png"],
    }
    assert wa.form()["To"] == ["whatsapp:+14155550123"] and wa.form()["From"] == ["whatsapp:+15005550006"]


def test_send_errors(stand_in):
    stand_in.script = [
        Reply(400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}),
        Reply(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": "12"}),
    ]
    message = OutboundMessage(message_id=1, conversation_id=1, recipient="+1", text="x")
    with httpx.Client() as client:
        with pytest.raises(SendError) as invalid:
            adapter.send(tw_inbox(base_url=stand_in.url), client, message)
        with pytest.raises(SendError) as slow:
            adapter.send(tw_inbox(base_url=stand_in.url), client, message)
    assert invalid.value.permanent and "21211" in invalid.value.reason
    assert not slow.value.permanent and slow.value.retry_after == 12
