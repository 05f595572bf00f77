"""The one guard for outbound HTTP to URLs that come from outside: platform media URLs, platform API
base URLs and connector callbacks set by admins, links inside webhooks.

`outbound_client()` is an httpx client whose transport, for every request and every redirect hop:

* resolves the host and refuses it unless every address it resolves to is public: loopback, private,
  link-local, shared (CGNAT), multicast, reserved, unspecified and cloud metadata addresses
  (169.254.169.254, fd00:ec2::254...) are refused, also when written as IPv4-mapped, 6to4 or NAT64 IPv6;
* connects to the address it checked (the URL's host is swapped for that IP, the Host header and TLS
  SNI/certificate check keep the name), so a DNS answer that changes between check and connect
  (rebinding) cannot reach anything else;
* caps the response body at `max_bytes` and its total reading time at `deadline_s`.

`OUTBOUND_FETCH_ALLOW` (settings) lists what may be reached anyway: host names (`files.internal`),
`host:port`, IP addresses (`10.0.0.5`, `[fd00::5]:8443`) and networks (`10.20.0.0/16`). A listed name is
trusted whatever it resolves to. Nothing is listed by default, in either profile.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services: refused even when a network that holds them is allow-listed (only the exact
# address listed lets one through).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(Exception):
    """A URL we will not call (a forbidden address or scheme, a body too large): permanent."""


@dataclass(frozen=True)
class _Allowed:
    host: str = ""  # a lower-case name, or ""
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None


def _parse_entry(entry: str) -> _Allowed:
    entry = entry.strip().lower()
    if "/" in entry:
        return _Allowed(network=ipaddress.ip_network(entry, strict=False))
    host, port = entry, None
    if entry.startswith("["):  # [v6] or [v6]:port
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else None
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = int(port_text)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return _Allowed(host=host.rstrip("."), port=port)
    return _Allowed(network=ipaddress.ip_network(ip), port=port)


def allow_list() -> list[_Allowed]:
    entries = getattr(settings, "OUTBOUND_FETCH_ALLOW", ()) or ()
    if isinstance(entries, str):
        entries = entries.split(",")
    allowed = []
    for entry in entries:
        if not entry or not entry.strip():
            continue
        try:
            allowed.append(_parse_entry(entry))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"OUTBOUND_FETCH_ALLOW: cannot read {entry!r} (a host, host:port, address or network): {exc}"
            ) from exc
    return allowed


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why this address is not a public one (None when it is)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason:
                return f"{reason} (inside {ip})"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved or non-public address"
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host resolves to (tests replace this to point a name somewhere)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[IPAddress, None] = {}
    for info in infos:
        seen[ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])] = None
    return list(seen)


def check_target(host: str, port: int, *, allowed: list[_Allowed] | None = None) -> list[IPAddress]:
    """The addresses to connect to for host:port, all checked; OutboundRefused if any is forbidden.
    A name that does not resolve is an httpx.ConnectError (worth retrying later)."""
    allowed = allow_list() if allowed is None else allowed
    name = host.lower().rstrip(".")
    name_allowed = any(a.host and a.host == name and a.port in (None, port) for a in allowed)
    try:
        addresses = _resolve(host, port)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpx.ConnectError(f"Cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise httpx.ConnectError(f"Cannot resolve {host}.")
    if name_allowed:
        return addresses
    for ip in addresses:
        reason = address_refusal(ip)
        if reason is None:
            continue
        listed = any(
            a.network is not None
            and ip.version == a.network.version
            and ip in a.network
            and a.port in (None, port)
            and (ip not in METADATA_ADDRESSES or a.network.num_addresses == 1)
            for a in allowed
        )
        if not listed:
            shown = host if str(ip) == host.strip("[]") else f"{host} ({ip})"
            raise OutboundRefused(f"Refusing to connect to {shown}: {reason}. Allow it in OUTBOUND_FETCH_ALLOW.")
    return addresses


class _CappedStream(httpx.SyncByteStream):
    """The response body, cut off past max_bytes or once the deadline passes."""

    def __init__(self, inner: httpx.SyncByteStream, *, max_bytes: int, deadline: float) -> None:
        self.inner = inner
        self.max_bytes = max_bytes
        self.deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        for chunk in self.inner:
            received += len(chunk)
            if received > self.max_bytes:
                raise OutboundRefused(f"The response is too large (over {self.max_bytes} bytes).")
            if time.monotonic() > self.deadline:
                raise httpx.ReadTimeout("The response took longer than its time limit.")
            yield chunk

    def close(self) -> None:
        self.inner.close()


class GuardedTransport(httpx.BaseTransport):
    """Checks each request's target (every redirect hop is a request), then connects to the checked IP."""

    def __init__(self, *, max_bytes: int, deadline_s: float, **transport_options: Any) -> None:
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self.transport_options = transport_options
        # One pool per (scheme, host, port): connections to one IP under different TLS names never mix.
        self._pools: dict[tuple[str, str, int], httpx.HTTPTransport] = {}

    def _pool(self, scheme: str, host: str, port: int) -> httpx.HTTPTransport:
        key = (scheme, host, port)
        if key not in self._pools:
            self._pools[key] = httpx.HTTPTransport(**self.transport_options)
        return self._pools[key]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in DEFAULT_PORTS:
            raise OutboundRefused(f"Only http and https URLs are fetched, not {url.scheme}.")
        host, port = url.raw_host.decode("ascii"), url.port or DEFAULT_PORTS[url.scheme]
        if not host:
            raise OutboundRefused("The URL has no host.")
        deadline = time.monotonic() + self.deadline_s
        addresses = check_target(host, port)
        pool = self._pool(url.scheme, host, port)
        last_error: Exception | None = None
        for ip in addresses:
            extensions = dict(request.extensions)
            if url.scheme == "https":
                extensions["sni_hostname"] = host  # the certificate is checked against the name
            pinned = httpx.Request(
                request.method,
                url.copy_with(host=str(ip)),
                headers=request.headers,  # Host keeps the name
                stream=request.stream,
                extensions=extensions,
            )
            try:
                response = pool.handle_request(pinned)
            except httpx.ConnectError as exc:
                last_error = exc
                continue
            return httpx.Response(
                status_code=response.status_code,
                headers=response.headers,
                stream=_CappedStream(response.stream, max_bytes=self.max_bytes, deadline=deadline),  # type: ignore[arg-type]
                extensions=response.extensions,
            )
        assert last_error is not None
        raise last_error

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def outbound_client(
    *,
    timeout: float | httpx.Timeout,
    max_bytes: int,
    deadline_s: float,
    follow_redirects: bool = False,
    max_redirects: int = 5,
    verify: ssl.SSLContext | bool = True,
    **options: Any,
) -> httpx.Client:
    """An httpx client for URLs from outside; use it for every such call. Redirects, when followed, are
    checked hop by hop by the same transport. Environment proxies are not used (a given transport
    disables them), so nothing bypasses the check."""
    return httpx.Client(
        transport=GuardedTransport(max_bytes=max_bytes, deadline_s=deadline_s, verify=verify),
        timeout=timeout,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        **options,
    )
