"""The address the app sees is the peer nginx saw, whatever X-Forwarded-For the client writes.

Real nginx (deploy/nginx.conf.template, rendered as scripts/cluster.sh does) in front of a real daphne run
with --proxy-headers, as deployed. Other loopback addresses (127.0.0.2) stand in for other machines."""

from __future__ import annotations

import httpx
import pytest

from tests.factories.imsubsystem import InboxFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def from_address(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=20)


def test_metrics_allow_list_follows_the_real_peer_not_the_header(start_cluster):
    cluster = start_cluster(env={"METRICS_ALLOWED_IPS": "127.0.0.2"})
    with from_address("127.0.0.1") as outsider:
        for claimed in ("127.0.0.2", "127.0.0.2, 127.0.0.1", "127.0.0.2,10.0.0.1"):
            response = outsider.get(f"{cluster.base}/metrics", headers={"X-Forwarded-For": claimed})
            assert response.status_code == 403, claimed
        # The other spellings of a forwarded address are ignored too.
        forwarded = {"X-Real-IP": "127.0.0.2", "Forwarded": "for=127.0.0.2", "X-Forwarded-Port": "1"}
        assert outsider.get(f"{cluster.base}/metrics", headers=forwarded).status_code == 403
    with from_address("127.0.0.2") as scraper:
        # The allowed machine still gets in through nginx, whatever it claims.
        assert scraper.get(f"{cluster.base}/metrics").status_code == 200
        assert scraper.get(f"{cluster.base}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_per_address_session_limit_holds_whatever_the_header_says(start_cluster):
    inbox = InboxFactory(key="xff-web", kind="web")
    cluster = start_cluster(env={"IM_WIDGET_SESSIONS_PER_MINUTE": "3"})
    url = f"{cluster.base}/api/v1/widget/{inbox.key}/sessions"
    with from_address("127.0.0.1") as client:
        statuses = [
            client.post(url, json={}, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(6)
        ]
    assert statuses == [201, 201, 201, 429, 429, 429]
    # Another address has its own allowance: the limit counts real peers.
    with from_address("127.0.0.3") as other:
        assert other.post(url, json={}).status_code == 201


def test_no_code_but_client_ip_reads_an_address():
    """Everything that decides by address asks core/client_ip.py; nothing reads a forwarded header or
    the socket's peer on its own (and so cannot be fooled differently)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    needles = ("REMOTE_ADDR", "X_FORWARDED", "X-Forwarded-For", "X-Real-IP", 'scope["client"]', 'scope.get("client"')
    offenders = []
    for package in ("config", "crm", "imsubsystem", "routing", "media", "bots", "supervisor"):
        for path in (root / package).rglob("*.py"):
            if path == root / "config" / "client_ip.py" or "migrations" in path.parts:
                continue
            text = path.read_text()
            offenders += [f"{path.relative_to(root)}: {n}" for n in needles if n.lower() in text.lower()]
    # The proxy header is trusted for the scheme only, which nginx writes itself (docs/deployment.md).
    offenders = [o for o in offenders if o != "config/settings.py: X_FORWARDED"]
    assert offenders == []
