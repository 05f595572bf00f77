"""The one place the app learns a caller's network address.

Everything that decides by address (the /metrics allow-list, the new-widget-session limit, the login
lockout) asks here, and this reads only REMOTE_ADDR. daphne fills it from the TCP peer or, run with
`--proxy-headers`, from the first X-Forwarded-For entry; deploy/nginx.conf.template replaces that header
with the peer nginx sees, so a client cannot write its own address (docs/deployment.md). Never read
X-Forwarded-For, X-Real-IP or Forwarded in application code: the client controls them.
"""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""
