"""Reads: the policy for a channel, what a viewer may see of an attachment, what retention would delete.

A viewer is a scope string, "<kind>:<id>", with the kinds of UploaderKind: "agent:<user id>" for staff
(checked against the logged-in user when a local file is served), "customer:<id>" with whatever id the
caller uses for customers (the same one it gives as uploader_id), "platform:<id>" and "bot:<id>".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

from crm.models import ChannelKind
from media.hooks import ConversationAccess, conversation_access
from media.models import Attachment, AttachmentStatus, MediaPolicy, TypeFamily, UploaderKind
from media.signing import ORIGINAL, THUMBNAIL, grant_sign
from media.sniff import SAFE_INLINE_IMAGES

_VIEWER = re.compile(r"^(" + "|".join(UploaderKind.values) + r"):[^\s:]{1,64}$")


def viewer_check(viewer: str) -> str:
    if not isinstance(viewer, str) or not _VIEWER.match(viewer):
        raise ValueError(f"A viewer is '<{'|'.join(UploaderKind.values)}>:<id>', not {viewer!r}.")
    return viewer


def media_policy_default(*, channel_kind: str) -> MediaPolicy:
    return MediaPolicy(
        channel_kind=channel_kind,
        max_size=settings.MEDIA_DEFAULT_MAX_SIZE,
        allowed_families=list(TypeFamily.values),
        retention_days=settings.MEDIA_DEFAULT_RETENTION_DAYS,
    )


def media_policy_get(*, channel_kind: str) -> MediaPolicy:
    """The channel's policy row, or the defaults from settings when no row was made for it."""
    if channel_kind not in ChannelKind.values:
        raise ValidationError(f"Unknown channel kind {channel_kind!r}.", code="unknown_channel")
    policy = MediaPolicy.objects.filter(channel_kind=channel_kind).first()
    return policy or media_policy_default(channel_kind=channel_kind)


def attachment_is_inline(*, attachment: Attachment) -> bool:
    """Only plain raster images, which browsers never run as code, are shown in place."""
    return attachment.content_type in SAFE_INLINE_IMAGES


def _presigning(storage) -> bool:
    if not isinstance(storage, S3Storage):
        return False
    if not storage.querystring_auth:
        raise ImproperlyConfigured("Attachments on S3 need querystring_auth=True: public object URLs never expire.")
    return True


def _file_url(*, attachment: Attachment, field: FieldFile, variant: str, viewer: str) -> str:
    if _presigning(field.storage):
        if variant == THUMBNAIL:
            disposition = content_disposition_header(False, "thumbnail")
            content_type = "image/png" if field.name.endswith(".png") else "image/jpeg"
        else:
            inline = attachment_is_inline(attachment=attachment)
            disposition = content_disposition_header(not inline, attachment.original_name)
            content_type = attachment.content_type
        return field.storage.url(
            field.name,
            parameters={"ResponseContentDisposition": disposition, "ResponseContentType": content_type},
            expire=settings.MEDIA_URL_TTL,
        )
    token = grant_sign(attachment_id=attachment.pk, variant=variant, viewer=viewer)
    return settings.MEDIA_PUBLIC_BASE_URL.rstrip("/") + reverse("media:attachment_file", args=[token])


# The app that owns conversations answers, when a local file is served, whether the link's viewer may
# still see the file's conversation (rights change: a transfer, a team change, a contact merge). The
# media app imports none of it: the switch registers its check in its AppConfig.ready.
def viewer_may_open(*, viewer: str, conversation_id: int, user_id: int | None) -> bool:
    """At serving time: may this link's viewer (with this request's user) still see the conversation?
    The `conversation_access` hook's answer (media/hooks.py); without one, the right checked when the link
    was issued stands."""
    event = ConversationAccess(viewer=viewer, conversation_id=conversation_id, user_id=user_id)
    return bool(conversation_access.ask(event, True))


def attachment_may_view(*, attachment: Attachment, viewer: str, may_view: Callable[[int], bool]) -> bool:
    """Before it is sent, only its uploader sees a file; after, whoever the caller lets see the conversation."""
    if attachment.conversation_id is None:
        return viewer == attachment.uploader_scope
    return bool(may_view(attachment.conversation_id))


def attachment_public_dict(*, attachment: Attachment, viewer: str, may_view: Callable[[int], bool]) -> dict[str, Any]:
    """What a client is shown of an attachment, with fresh URLs that work for MEDIA_URL_TTL seconds.

    `may_view(conversation_id)` is the caller's answer to "may this viewer see that conversation" (the
    media app does not know conversations). Raises PermissionDenied when the viewer may not see it.
    """
    viewer_check(viewer)
    if not attachment_may_view(attachment=attachment, viewer=viewer, may_view=may_view):
        raise PermissionDenied("You may not see this attachment.")
    ready = attachment.status == AttachmentStatus.READY and bool(attachment.file)
    return {
        "id": attachment.pk,
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "url": _file_url(attachment=attachment, field=attachment.file, variant=ORIGINAL, viewer=viewer)
        if ready
        else None,
        "thumbnail_url": _file_url(attachment=attachment, field=attachment.thumbnail, variant=THUMBNAIL, viewer=viewer)
        if ready and attachment.thumbnail
        else None,
        "width": attachment.width,
        "height": attachment.height,
        "status": attachment.status,
        "error": attachment.error or None,
        # When the links stop working: clients ask for fresh ones before (or when a link answers 403).
        "expires_at": (timezone.now() + timedelta(seconds=settings.MEDIA_URL_TTL)).isoformat() if ready else None,
    }


def attachments_past_retention(*, now: datetime | None = None) -> QuerySet[Attachment]:
    """Attachments the retention rules would delete now: older than their channel's retention days, or
    uploaded but never sent within MEDIA_ORPHAN_HOURS."""
    now = now or timezone.now()
    policies = {p.channel_kind: p.retention_days for p in MediaPolicy.objects.all()}
    condition = Q(conversation_id__isnull=True, created_at__lt=now - timedelta(hours=settings.MEDIA_ORPHAN_HOURS))
    for kind in ChannelKind.values:
        days = policies.get(kind, settings.MEDIA_DEFAULT_RETENTION_DAYS)
        if days:
            condition |= Q(channel_kind=kind, created_at__lt=now - timedelta(days=days))
    return Attachment.objects.filter(condition)


def media_policy_expired_count(*, policy: MediaPolicy, now: datetime | None = None) -> int:
    """How many of the channel's attachments retention would delete now (the admin's dry run)."""
    if not policy.retention_days:
        return 0
    now = now or timezone.now()
    return Attachment.objects.filter(
        channel_kind=policy.channel_kind, created_at__lt=now - timedelta(days=policy.retention_days)
    ).count()
