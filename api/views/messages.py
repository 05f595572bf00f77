"""A conversation's messages: its history page by page by seq, and sending into it as the calling agent,
as the bot, or as an internal note, through the switch's one write path (`message_send`).

Paging follows seq, the conversation's own order: `?after_seq=N` reads forwards (oldest first, what a
system that keeps a copy asks for: everything after the last seq it has), `?before_seq=N` or nothing
reads backwards (newest first, what a screen shows). `next` is the following page in the same direction.
"""

from __future__ import annotations

import hashlib

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from api.serializers_conversations import MessagePageSerializer, MessageSendSerializer, MessageSerializer
from api.views.base import ApiMixin
from imsubsystem import selectors
from imsubsystem import services as switch
from imsubsystem.models import Conversation, SenderKind
from imsubsystem.ratelimit import agent_identity, message_rate_check

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
CLIENT_ID_MAX = 64


def _whole(request, name: str, *, low: int, high: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise ValidationError({name: [f"A whole number {bound}."]})
    return value


def client_id_of(request, given: str | None) -> str | None:
    """The body's client_id, else the Idempotency-Key header (a longer key by its SHA-256's first 64 hex
    digits, so any key the caller keeps works)."""
    if given:
        return given
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    return key if len(key) <= CLIENT_ID_MAX else hashlib.sha256(key.encode()).hexdigest()[:CLIENT_ID_MAX]


@extend_schema(parameters=[OpenApiParameter("conversation_id", OpenApiTypes.INT, OpenApiParameter.PATH)])
class ConversationMessagesView(ApiMixin, APIView):
    def _conversation(self, request, conversation_id, *, acting: bool = False) -> Conversation:
        conversation = selectors.conversation_visible_get(
            user=request.user, conversation_id=conversation_id, acting=acting
        )
        if conversation is None:
            raise NotFound()
        return conversation

    @extend_schema(
        operation_id="conversations_messages_list",
        summary="List a conversation's messages",
        description="Internal notes included (`private`). Without `after_seq`, newest first.",
        tags=["messages"],
        parameters=[
            OpenApiParameter("after_seq", OpenApiTypes.INT, description="Oldest first, after this seq (0: all)."),
            OpenApiParameter("before_seq", OpenApiTypes.INT, description="Newest first, before this seq."),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"1 to {MAX_PAGE_SIZE}, default {PAGE_SIZE}."),
        ],
        responses={
            200: MessagePageSerializer,
            400: OpenApiResponse(description="invalid: a page parameter out of range, or both directions"),
            404: OpenApiResponse(description="not_found: no such conversation, or not yours"),
        },
    )
    def get(self, request, conversation_id):
        conversation = self._conversation(request, conversation_id)
        after_seq = _whole(request, "after_seq", low=0)
        before_seq = _whole(request, "before_seq", low=1)
        limit = _whole(request, "limit", low=1, high=MAX_PAGE_SIZE) or PAGE_SIZE
        if after_seq is not None and before_seq is not None:
            raise ValidationError({"after_seq": ["Give after_seq or before_seq, not both."]})
        if after_seq is not None:
            messages = selectors.messages_after(
                conversation_id=conversation.pk, after_seq=after_seq, include_private=True, limit=limit + 1
            )
            order, param = "oldest_first", "after_seq"
        else:
            messages = selectors.messages_before(
                conversation_id=conversation.pk, before_seq=before_seq, include_private=True, limit=limit + 1
            )
            order, param = "newest_first", "before_seq"
        page = messages[:limit]
        next_url = None
        if len(messages) > limit:
            url = request.build_absolute_uri()
            other = "before_seq" if param == "after_seq" else "after_seq"
            next_url = replace_query_param(remove_query_param(url, other), param, page[-1]["seq"])
        return Response(
            {
                "conversation_id": conversation.pk,
                "last_seq": conversation.last_seq,
                "order": order,
                "next": next_url,
                "results": page,
            }
        )

    @extend_schema(
        operation_id="conversations_messages_create",
        summary="Send a message or an internal note",
        description="As the calling agent, or as the bot (`sender: bot`, supervisors and admins). "
        "201 with the stored message; 200 with the first one when its client_id (or Idempotency-Key) was "
        "sent before.",
        tags=["messages"],
        request=MessageSendSerializer,
        responses={
            201: MessageSerializer,
            200: MessageSerializer,
            400: OpenApiResponse(description="invalid, empty, too_long or unknown_attachment"),
            403: OpenApiResponse(description="forbidden: a read-only token, or `bot` without the supervise role"),
            404: OpenApiResponse(description="not_found: no such conversation, or not yours"),
            409: OpenApiResponse(description="conversation_closed"),
            429: OpenApiResponse(description="rate_limited (Retry-After)"),
        },
    )
    def post(self, request, conversation_id):
        body = MessageSendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # A note needs the visibility rule; a reply to the customer its acting form (a mention lets one see).
        conversation = self._conversation(request, conversation_id, acting=not data["private"])
        as_bot = data["sender"] == "bot"
        if as_bot and not request.user.has_perm("imsubsystem.supervise"):
            raise PermissionDenied("Only supervisors and admins may send as the bot.")
        # The same bucket as this user's messages from the console.
        message_rate_check(identity=agent_identity(request.user.pk))
        message, created = switch.message_send(
            conversation_id=conversation.pk,
            sender_kind=SenderKind.BOT if as_bot else SenderKind.AGENT,
            sender_user_id=None if as_bot else request.user.pk,
            text=data["text"],
            client_id=client_id_of(request, data.get("client_id")),
            attachment_ids=data["attachment_ids"],
            private=data["private"],
            mentions=data["mentions"],
        )
        return Response(message, status=201 if created else 200)
