"""The HTTP client for every call the gateway makes to a platform (sends, acknowledgements, media
lookups, connection checks), behind the outbound guard."""

from __future__ import annotations

import httpx
from django.conf import settings

from core.outbound import outbound_client

# Platform answers are small JSON; the largest body read is an agent's image that WeChat needs uploaded.
HTTP_MAX_RESPONSE_BYTES = 25 * 1024 * 1024


def http_client() -> httpx.Client:
    """The client for every platform call: API base URLs and connector callbacks are set by admins, so
    they go through the outbound guard like any URL from outside (public addresses only unless listed
    in OUTBOUND_FETCH_ALLOW); no redirects; each call's body read within GATEWAY_HTTP_TIMEOUT_S."""
    timeout = float(settings.GATEWAY_HTTP_TIMEOUT_S)
    return outbound_client(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        max_bytes=HTTP_MAX_RESPONSE_BYTES,
        deadline_s=timeout,
        follow_redirects=False,
    )
