"""Webhook endpoints: /gateway/{kind}/{inbox_key}/. They parse the HTTP request and call one service."""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from gateway import inbound, tasks
from gateway.base import Headers, WebhookRequest


def webhook_request(request: HttpRequest) -> WebhookRequest:
    body = request.body
    form: tuple[tuple[str, str], ...] = ()
    if request.content_type == "application/x-www-form-urlencoded":
        form = tuple(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    return WebhookRequest(
        method=request.method or "GET",
        url=request.build_absolute_uri(),
        query=request.GET.dict(),
        headers=Headers(dict(request.headers)),
        body=body,
        form=form,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def webhook(request: HttpRequest, kind: str, inbox_key: str) -> HttpResponse:
    reply = inbound.webhook_receive(
        kind=kind,
        inbox_key=inbox_key,
        request=webhook_request(request),
        on_new_event=tasks.inbound_event_process_later,
    )
    response = HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
    if reply.retry_after_s is not None:
        response["Retry-After"] = str(reply.retry_after_s)
    return response
