"""Messages: the internal payload of a stored message (events.MessagePayload) with its attachments
described, signed attachment links per viewer, a conversation's history after a seq (staff, customer
replay), and the look-ups by client id and platform id that make sends idempotent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from imsubsystem.models import Conversation, Message, SenderKind
from imsubsystem.selectors.conversations import user_display_name
from imsubsystem.selectors.visibility import conversation_visible_to
from media.models import Attachment
from media.selectors import attachment_public_dict

BOT_NAME = "Assistant"
SYSTEM_NAME = "Switchboard"


def attachments_describe(ids: Iterable[int]) -> list[dict[str, Any]]:
    """What every viewer may know of a message's attachments. URLs are signed per viewer, so frames
    published to a group carry none; each socket adds its own with `payload_for_viewer`."""
    ids = [int(i) for i in ids]
    if not ids:
        return []
    rows = {
        a["id"]: a
        for a in Attachment.objects.filter(pk__in=ids).values("id", "original_name", "content_type", "size", "status")
    }
    described = []
    for attachment_id in ids:
        row = rows.get(attachment_id)
        if row is None:  # deleted by retention
            described.append({"id": attachment_id, "status": "deleted"})
        else:
            described.append(
                {
                    "id": attachment_id,
                    "name": row["original_name"],
                    "content_type": row["content_type"],
                    "size": row["size"],
                    "status": row["status"],
                }
            )
    return described


def payload_for_viewer(payload: dict[str, Any], *, viewer: str) -> dict[str, Any]:
    """A message payload with fresh signed attachment URLs for one viewer ("customer:<contact id>" or
    "agent:<user id>"). The caller has already checked that the viewer may see the conversation."""
    if not payload["attachments"]:
        return payload
    ids = [a["id"] for a in payload["attachments"]]
    rows = {a.pk: a for a in Attachment.objects.filter(pk__in=ids)}
    conversation_id = payload["conversation_id"]
    attachments = []
    for described in payload["attachments"]:
        row = rows.get(described["id"])
        if row is None:
            attachments.append(described)
            continue
        attachments.append(
            attachment_public_dict(attachment=row, viewer=viewer, may_view=lambda c: c == conversation_id)
        )
    return {**payload, "attachments": attachments}


def message_payload(message: Message, *, sender_name: str | None = None) -> dict[str, Any]:
    """The internal message format (events.MessagePayload) of a stored message."""
    kind = message.sender_kind
    if sender_name is None:
        if kind == SenderKind.CUSTOMER:
            sender_name = message.conversation.contact.display_name
        elif kind == SenderKind.AGENT:
            sender_name = user_display_name(message.sender_user)
        elif kind == SenderKind.BOT:
            sender_name = BOT_NAME
        else:
            sender_name = SYSTEM_NAME
    sender: dict[str, Any] = {"kind": kind, "name": sender_name}
    if kind == SenderKind.AGENT:
        sender["id"] = message.sender_user_id
    payload: dict[str, Any] = {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": sender,
        "text": message.text,
        "attachments": attachments_describe(message.attachments),
        "private": message.private,
        "created_at": message.created_at.isoformat(),
        "delivery_status": message.delivery_status,
    }
    if message.delivery_error:
        payload["delivery_error"] = message.delivery_error
    if message.delivery_retry_at and message.delivery_status == "retrying":
        payload["delivery_retry_at"] = message.delivery_retry_at.isoformat()
    if message.buttons:
        payload["buttons"] = message.buttons
    return payload


def messages_after(
    *, conversation_id: int, after_seq: int = 0, include_private: bool, limit: int | None = None
) -> list[dict[str, Any]]:
    """Messages of a conversation after `after_seq`, in seq order.

    With include_private=False (customers) private notes are left out; callers that must account for
    every seq (the customer replay) use `history_for_customer`.
    """
    messages = (
        Message.objects.filter(conversation_id=conversation_id, seq__gt=max(0, after_seq))
        .select_related("conversation__contact", "sender_user")
        .order_by("seq")
    )
    if not include_private:
        messages = messages.filter(private=False)
    if limit is not None:
        messages = messages[:limit]
    return [message_payload(m) for m in messages]


def messages_before(
    *, conversation_id: int, before_seq: int | None = None, include_private: bool, limit: int
) -> list[dict[str, Any]]:
    """At most `limit` messages of a conversation before `before_seq` (None: the newest), newest first:
    a history read backwards, page by page."""
    messages = (
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("conversation__contact", "sender_user")
        .order_by("-seq")
    )
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    if not include_private:
        messages = messages.filter(private=False)
    return [message_payload(m) for m in messages[:limit]]


def history_for_customer(*, conversation_id: int, after_seq: int = 0) -> list[dict[str, Any]]:
    """What a customer's replay carries: message.new for public messages, message.hidden for notes,
    so every seq after `after_seq` is accounted for and a missing one means a lost frame."""
    frames: list[dict[str, Any]] = []
    messages = (
        Message.objects.filter(conversation_id=conversation_id, seq__gt=max(0, after_seq))
        .select_related("conversation__contact", "sender_user")
        .order_by("seq")
    )
    for message in messages:
        if message.private:
            frames.append({"type": "message.hidden", "conversation_id": conversation_id, "seq": message.seq})
        else:
            frames.append({"type": "message.new", "message": message_payload(message)})
    return frames


def message_by_client_id(
    *,
    sender_key: str,
    client_id: str,
    conversation_id: int | None = None,
    inbox_id: int | None = None,
    contact_id: int | None = None,
) -> Message | None:
    """The message `sender_key` sent with `client_id`, looked for in one conversation (conversation_id),
    or in every conversation of one customer in one inbox (inbox_id and contact_id): a customer's retry
    finds its first message even after that conversation closed and another opened."""
    if conversation_id is not None:
        if inbox_id is not None or contact_id is not None:
            raise TypeError("Give conversation_id, or inbox_id and contact_id, not both.")
        scope = {"conversation_id": conversation_id}
    elif inbox_id is not None and contact_id is not None:
        scope = {"conversation__inbox_id": inbox_id, "conversation__contact_id": contact_id}
    else:
        raise TypeError("Give conversation_id, or inbox_id and contact_id.")
    return (
        Message.objects.select_related("conversation__contact", "sender_user")
        .filter(**scope, sender_key=sender_key, client_id=client_id)
        .first()
    )


def message_by_platform_id(*, inbox_id: int | None, platform_message_id: str) -> Message | None:
    """The message an IM platform delivered with this id to this inbox (unique together)."""
    return (
        Message.objects.select_related("conversation__contact", "sender_user")
        .filter(inbox_id=inbox_id, platform_message_id=platform_message_id)
        .first()
    )


LINKS_MAX = 100  # attachments one request may ask fresh links for
LINKS_PER_MINUTE = 30  # fresh-link requests one widget session or one staff user may make a minute


def attachment_links_for_customer(*, inbox_id: int, contact_id: int, attachment_ids: list[int]) -> list[dict]:
    """Fresh signed links for attachments of this customer's public messages in this inbox (a history
    redrawn after its links expired). Ids the customer may not see are left out, not refused one by one,
    so the answer tells nothing of other people's files."""
    wanted = {int(i) for i in attachment_ids[:LINKS_MAX]}
    if not wanted:
        return []
    conversation_ids = set(
        Conversation.objects.filter(inbox_id=inbox_id, contact_id=contact_id).values_list("id", flat=True)
    )
    visible: set[int] = set()
    for ids in Message.objects.filter(conversation_id__in=conversation_ids, private=False).values_list(
        "attachments", flat=True
    ):
        visible.update(int(i) for i in ids or [] if int(i) in wanted)
    viewer = f"customer:{contact_id}"
    return [
        attachment_public_dict(attachment=row, viewer=viewer, may_view=lambda c: c in conversation_ids)
        for row in Attachment.objects.filter(pk__in=visible, conversation_id__in=conversation_ids).order_by("id")
    ]


def attachment_links_for_staff(*, user, attachment_ids: list[int]) -> list[dict]:
    """Fresh signed links for attachments of conversations this staff member may see (the console's
    threads outlive their links). Others are left out."""
    wanted = {int(i) for i in attachment_ids[:LINKS_MAX]}
    rows = list(Attachment.objects.filter(pk__in=wanted, conversation_id__isnull=False).order_by("id"))
    conversations = {c.pk: c for c in Conversation.objects.filter(pk__in={row.conversation_id for row in rows})}
    allowed = {pk for pk, c in conversations.items() if conversation_visible_to(user=user, conversation=c)}
    viewer = f"agent:{user.pk}"
    return [
        attachment_public_dict(attachment=row, viewer=viewer, may_view=lambda c: c in allowed)
        for row in rows
        if row.conversation_id in allowed
    ]
