"""Outbound HTTP to URLs from outside reaches public addresses only (core/outbound.py).

A forged WeChat image message whose PicUrl points inside the network must not make the server fetch it
and file it as an attachment: loopback, `localhost`, a redirect to loopback, cloud metadata, [::1] and
IPv4-mapped IPv6 are all refused, with nothing fetched and nothing filed. The same guard covers every
platform call (API base URLs, connector callbacks, "check connection"). A stand-in that the settings
allow-list explicitly still works.

Local servers count what reaches them; every connection the code attempts goes through a check that
fails the test for anything but loopback, so a broken guard can never send traffic off this machine.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
import pytest
from django.test import Client
from wechatpy.utils import WeChatSigner

from core import outbound
from gateway import services
from gateway.models import OutboxItem
from imsubsystem.models import Conversation, Message
from imsubsystem.services import message_send
from media.models import Attachment
from tests.factories import InboxFactory, UserFactory
from tests.factories.media import image_bytes
from tests.gateway.test_webhooks import tg_update
from tests.media.conftest import Platform, Reply

pytestmark = pytest.mark.django_db

TOKEN = "switchboard"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any connection attempt to an address off this machine fails the test instead of leaving it."""
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        host = address[0]
        assert ipaddress.ip_address(host).is_loopback, f"the code tried to connect to {host}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture(autouse=True)
def nothing_allowed(settings):
    settings.OUTBOUND_FETCH_ALLOW = []


@pytest.fixture
def server():
    """A local HTTP server that is NOT allow-listed: it stands for anything inside the network."""
    stand_in = Platform()
    stand_in.thread.start()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


@pytest.fixture
def wechat_inbox(db):
    return InboxFactory(
        kind="wechat",
        key="wx-ssrf",
        config={},
        credentials={"token": TOKEN, "app_id": "wx0", "app_secret": "s", "encoding_aes_key": AES_KEY},
    )


def post_image(client, capture, pic_url: str) -> Attachment:
    """A genuinely signed WeChat image message with this PicUrl, through the view and the tasks."""
    stamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    signer = WeChatSigner()
    signer.add_data(TOKEN, stamp, nonce)
    query = urlencode({"signature": signer.signature, "timestamp": stamp, "nonce": nonce})
    xml = (
        "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
        f"<PicUrl><![CDATA[{pic_url}]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>"
        f"<MsgId>{secrets.randbelow(10**15)}</MsgId></xml>"
    )
    with capture(execute=True):
        response = client.post(f"/gateway/wechat/wx-ssrf/?{query}", xml.encode(), content_type="text/xml")
    assert response.status_code == 200
    message = Message.objects.get()
    return Attachment.objects.get(pk=message.attachments[0])


def assert_refused(attachment: Attachment, reason: str) -> None:
    assert attachment.status == "failed", attachment.status
    assert reason in attachment.error and "OUTBOUND_FETCH_ALLOW" in attachment.error, attachment.error
    assert not attachment.file and not attachment.size


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "127.1", "2130706433"],
    ids=["loopback", "localhost", "ipv4-mapped-ipv6", "short-form", "decimal"],
)
def test_pic_url_inside_the_network_is_refused_and_nothing_filed(
    client, django_capture_on_commit_callbacks, wechat_inbox, server, host
):
    server.reply("/secret.png", Reply(200, image_bytes("PNG", (4, 4)), {"Content-Type": "image/png"}))
    port = server.server.server_address[1]
    attachment = post_image(client, django_capture_on_commit_callbacks, f"http://{host}:{port}/secret.png")
    assert_refused(attachment, "loopback")
    assert server.hits == {}, "the internal server was reached"


def test_ipv6_loopback_is_refused(client, django_capture_on_commit_callbacks, wechat_inbox):
    attachment = post_image(client, django_capture_on_commit_callbacks, "http://[::1]:8080/secret.png")
    assert_refused(attachment, "loopback")


def test_cloud_metadata_is_refused(client, django_capture_on_commit_callbacks, wechat_inbox):
    attachment = post_image(client, django_capture_on_commit_callbacks, "http://169.254.169.254/latest/meta-data/")
    assert_refused(attachment, "metadata")


def test_a_public_looking_url_redirecting_inside_is_refused_at_the_hop(
    client, django_capture_on_commit_callbacks, wechat_inbox, server, settings, monkeypatch
):
    """cdn.platform.example is allowed (as if public); it answers 302 to a loopback URL: the hop is checked."""
    inside = Platform()
    inside.thread.start()
    try:
        inside_port = inside.server.server_address[1]
        inside.reply("/secret.png", Reply(200, image_bytes("PNG", (4, 4)), {"Content-Type": "image/png"}))
        server.reply("/photo.png", Reply(302, b"", {"Location": f"http://127.0.0.1:{inside_port}/secret.png"}))
        real_resolve = outbound._resolve
        monkeypatch.setattr(
            outbound,
            "_resolve",
            lambda host, port: (
                [ipaddress.ip_address("127.0.0.1")] if host == "cdn.platform.example" else real_resolve(host, port)
            ),
        )
        settings.OUTBOUND_FETCH_ALLOW = ["cdn.platform.example"]
        port = server.server.server_address[1]
        attachment = post_image(
            client, django_capture_on_commit_callbacks, f"http://cdn.platform.example:{port}/photo.png"
        )
        assert_refused(attachment, "loopback")
        assert server.hits == {"/photo.png": 1}
        assert inside.hits == {}, "the redirect target was reached"
    finally:
        inside.server.shutdown()
        inside.server.server_close()


def test_an_allow_listed_stand_in_is_fetched_and_filed(
    client, django_capture_on_commit_callbacks, wechat_inbox, server, settings
):
    server.reply("/photo.png", Reply(200, image_bytes("PNG", (4, 4)), {"Content-Type": "image/png"}))
    port = server.server.server_address[1]
    settings.OUTBOUND_FETCH_ALLOW = [f"127.0.0.1:{port}"]
    attachment = post_image(client, django_capture_on_commit_callbacks, f"http://127.0.0.1:{port}/photo.png")
    assert attachment.status == "ready", attachment.error
    assert server.hits == {"/photo.png": 1}
    # Listed by host and port: the same address on another port is still refused.
    assert "Refusing" in _refusal(f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/")


def test_the_connection_goes_to_the_address_that_was_checked(server, settings, monkeypatch):
    """No second DNS lookup between check and connect (rebinding): the name here resolves only through
    the guard's own resolver, so reaching the server at all proves the checked IP was used."""
    server.reply("/ok", Reply(200, b"fine", {"Content-Type": "text/plain"}))
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: [ipaddress.ip_address("127.0.0.1")])
    settings.OUTBOUND_FETCH_ALLOW = ["pinned.platform.example"]
    port = server.server.server_address[1]
    with outbound.outbound_client(timeout=5, max_bytes=1000, deadline_s=10) as client:
        response = client.get(f"http://pinned.platform.example:{port}/ok")
    assert response.text == "fine"
    assert server.request_headers[0]["Host"] == f"pinned.platform.example:{port}"


def _refusal(url: str) -> str:
    try:
        with outbound.outbound_client(timeout=2, max_bytes=1000, deadline_s=5) as client:
            client.get(url)
    except outbound.OutboundRefused as exc:
        return str(exc)
    return "fetched"


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "100.100.100.200",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "::",
        "fe80::1",
        "fc00::1",
        "224.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:a9fe:a9fe::1",
    ],
)
def test_every_non_public_address_a_name_resolves_to_is_refused_before_connecting(monkeypatch, address):
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: [ipaddress.ip_address(address)])
    assert _refusal("https://files.platform.example/x.jpg").startswith("Refusing to connect")


def test_one_bad_address_among_good_ones_refuses_the_name(monkeypatch):
    monkeypatch.setattr(
        outbound,
        "_resolve",
        lambda host, port: [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("127.0.0.1")],
    )
    assert "loopback" in _refusal("https://mixed.platform.example/")


def test_networks_in_the_allow_list_do_not_open_metadata(monkeypatch, settings):
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: [ipaddress.ip_address("169.254.169.254")])
    settings.OUTBOUND_FETCH_ALLOW = ["169.254.0.0/16"]
    assert "metadata" in _refusal("http://metadata.internal/")


def test_responses_are_capped_in_size(server, settings):
    server.reply("/big", Reply(200, b"x" * 5000, {"Content-Type": "text/plain"}))
    port = server.server.server_address[1]
    settings.OUTBOUND_FETCH_ALLOW = [f"127.0.0.1:{port}"]
    with (
        outbound.outbound_client(timeout=5, max_bytes=1000, deadline_s=10) as client,
        pytest.raises(outbound.OutboundRefused, match="too large"),
    ):
        client.get(f"http://127.0.0.1:{port}/big")


def test_admin_configured_platform_urls_go_through_the_same_guard(server, django_capture_on_commit_callbacks):
    """A connector callback (API channel) or a platform base URL set to an internal address: the
    connection check and the outbox refuse it with the reason, and nothing reaches the address."""
    port = server.server.server_address[1]
    api = InboxFactory(
        kind="api",
        key="api-ssrf",
        config={"callback_url": f"http://localhost:{port}/hook"},
        credentials={"secret": "k"},
    )
    telegram = InboxFactory(
        kind="telegram",
        key="tg-ssrf",
        config={"api_base_url": f"http://127.0.0.1:{port}"},
        credentials={"bot_token": "1:A", "secret_token": "s"},
    )
    for inbox in (api, telegram):
        with pytest.raises(Exception, match="Refusing to connect") as caught:
            services.inbox_connection_check(inbox_id=inbox.pk)
        assert caught.type.__name__ == "ValidationError"

    # An agent's reply on that Telegram inbox: the outbox row fails at once with the reason.
    with django_capture_on_commit_callbacks(execute=True):
        client_post = Client().post(
            "/gateway/telegram/tg-ssrf/",
            tg_update(1, 1, "hello", datetime.now(UTC)),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
        )
        assert client_post.status_code == 200
    agent = UserFactory(username="agent-ssrf")
    with django_capture_on_commit_callbacks(execute=True):
        message_send(
            conversation_id=Conversation.objects.get().pk, sender_kind="agent", sender_user_id=agent.pk, text="hi"
        )
    row = OutboxItem.objects.get()
    assert row.state == "failed" and "Refusing to connect" in row.last_error and row.attempts == 1
    assert server.hits == {}


def _tls_files(tmp_path, name: str):
    """A throwaway CA and a server certificate for `name`, signed by it."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def make(subject: str, issuer_name, issuer_key, *, ca: bool):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer_name or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return key, builder.sign(issuer_key or key, hashes.SHA256())

    ca_key, ca_cert = make("Test CA", None, None, ca=True)
    key, cert = make(name, ca_cert.subject, ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(
        cert.public_bytes(pem) + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return tmp_path / "ca.pem", tmp_path / "server.pem"


def test_https_to_the_pinned_address_still_checks_the_certificate_against_the_name(
    server, settings, monkeypatch, tmp_path
):
    import ssl

    ca, chain = _tls_files(tmp_path, "files.platform.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    server.reply("/tls", Reply(200, b"over tls", {"Content-Type": "text/plain"}))
    port = server.server.server_address[1]
    monkeypatch.setattr(outbound, "_resolve", lambda host, port: [ipaddress.ip_address("127.0.0.1")])
    settings.OUTBOUND_FETCH_ALLOW = ["files.platform.example", "other.platform.example"]
    trust = ssl.create_default_context(cafile=str(ca))
    with outbound.outbound_client(timeout=5, max_bytes=1000, deadline_s=10, verify=trust) as client:
        assert client.get(f"https://files.platform.example:{port}/tls").text == "over tls"
    # The same address under a name the certificate does not carry: refused by TLS, not trusted by IP.
    with (
        outbound.outbound_client(timeout=5, max_bytes=1000, deadline_s=10, verify=trust) as client,
        pytest.raises(httpx.ConnectError, match=r"certificate|hostname"),
    ):
        client.get(f"https://other.platform.example:{port}/tls")
    assert server.hits == {"/tls": 1}
