"""Writes: storing checked files, attaching them to conversations, fetching platform media, deleting.

Every file goes through one gate (`_store_checked`): size, type from the bytes, the channel's policy,
the name and declared type against the bytes, then images are decoded and written again without
metadata. A refused upload leaves no row and no file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction

from core.text import text_clean
from crm.models import ChannelKind
from media.images import image_clean
from media.models import Attachment, AttachmentStatus, MediaPolicy, TypeFamily, UploaderKind
from media.names import name_sanitize
from media.remote import RemoteFetchRefused, remote_download
from media.selectors import attachments_past_retention, media_policy_get
from media.sniff import check_claims, extension_of, sniff

logger = logging.getLogger(__name__)

MAX_ATTACHMENTS_PER_MESSAGE = 10
_MB = 1024 * 1024
_ALL = list(TypeFamily.values)
# Each platform's own limit on what it will hand us or take from us (docs/media.md).
DEFAULT_POLICIES: dict[str, dict] = {
    "web": {"max_size": 20 * _MB, "allowed_families": _ALL},
    "telegram": {"max_size": 20 * _MB, "allowed_families": _ALL},  # Bot API getFile limit
    "whatsapp": {"max_size": 100 * _MB, "allowed_families": _ALL},  # documents; media is 16 MB
    "wechat": {"max_size": 10 * _MB, "allowed_families": _ALL},
    "sms": {"max_size": 5 * _MB, "allowed_families": ["image", "audio", "video", "pdf", "text"]},  # MMS
    "api": {"max_size": 20 * _MB, "allowed_families": _ALL},
    "email": {"max_size": 25 * _MB, "allowed_families": _ALL},
}
_CHUNK = 64 * 1024


def _size_of(file: IO[bytes] | File) -> int:
    size = getattr(file, "size", None)
    if size is not None:
        return int(size)
    file.seek(0, 2)
    size = file.tell()
    file.seek(0)
    return size


def _sha256(file: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    file.seek(0)
    while chunk := file.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return digest.hexdigest(), size


def _typed_file(content: IO[bytes], *, name: str, content_type: str) -> File:
    """A File whose content_type is the sniffed one: S3 stores it as the object's Content-Type."""
    stored = File(content, name=name)
    stored.content_type = content_type
    return stored


def _uploader_check(uploader_kind: str, uploader_id: str) -> None:
    if uploader_kind not in UploaderKind.values:
        raise ValidationError(f"Unknown uploader kind {uploader_kind!r}.", code="bad_uploader")
    if not str(uploader_id) or len(str(uploader_id)) > 64 or ":" in str(uploader_id):
        raise ValidationError("An uploader id is 1 to 64 characters without ':'.", code="bad_uploader")


def _files_delete(storage, names: Iterable[str]) -> None:
    for name in names:
        if name:
            try:
                storage.delete(name)
            except Exception:  # a storage outage must not undo the row change; the file is logged
                logger.exception("Could not delete stored file %s", name)


def _store_checked(*, attachment: Attachment, file: IO[bytes] | File, name: str, claimed_type: str) -> None:
    policy: MediaPolicy = media_policy_get(channel_kind=attachment.channel_kind)
    name = name_sanitize(name)
    size = _size_of(file)
    if size == 0:
        raise ValidationError("The file is empty.", code="empty")
    if size > policy.max_size:
        raise ValidationError(
            f"The file is too large ({size} bytes; the limit is {policy.max_size}).", code="too_large"
        )
    extension = extension_of(name)
    found = sniff(file=file, extension=extension)
    if found.family not in policy.allowed_families:
        raise ValidationError(
            f"{TypeFamily(found.family).label} are not accepted on this channel.", code="type_not_allowed"
        )
    check_claims(found=found, extension=extension, claimed_type=claimed_type)

    content: IO[bytes] = getattr(file, "file", None) or file
    cleaned = None
    if found.family == TypeFamily.IMAGE:
        cleaned = image_clean(file=file, found=found)
        content = cleaned.content
        attachment.width, attachment.height = cleaned.width, cleaned.height
    attachment.sha256, attachment.size = _sha256(content)

    attachment.original_name = name if extension else f"{name}.{found.extensions[0]}"
    attachment.content_type = found.mime
    attachment.family = found.family
    attachment.status = AttachmentStatus.READY
    attachment.error = ""
    attachment.file.save(
        f"f.{found.extensions[0]}", _typed_file(content, name=name, content_type=found.mime), save=False
    )
    try:
        if cleaned is not None:
            extension = cleaned.thumbnail_extension
            attachment.thumbnail.save(
                f"t.{extension}",
                _typed_file(cleaned.thumbnail, name=f"t.{extension}", content_type=f"image/{extension}"),
                save=False,
            )
        attachment.save()
    except BaseException:
        _files_delete(attachment.file.storage, [attachment.file.name, attachment.thumbnail.name])
        raise


def attachment_upload(
    *,
    file: File | IO[bytes],
    channel_kind: str,
    conversation_id: int | None = None,
    uploader_kind: str,
    uploader_id: str,
    name: str | None = None,
    claimed_type: str | None = None,
) -> Attachment:
    """Check and store an uploaded file. `file` is an UploadedFile (its name and content_type are the
    claims checked against the bytes) or any seekable binary file with `name`/`claimed_type` given.
    Raises ValidationError (with a code: empty, too_large, executable, markup, svg, type_mismatch,
    unknown_type, type_not_allowed, bad_image, ...) and then stores nothing."""
    _uploader_check(uploader_kind, uploader_id)
    attachment = Attachment(
        channel_kind=channel_kind,
        conversation_id=conversation_id,
        uploader_kind=uploader_kind,
        uploader_id=str(uploader_id),
    )
    _store_checked(
        attachment=attachment,
        file=file,
        name=name if name is not None else getattr(file, "name", "") or "",
        claimed_type=claimed_type if claimed_type is not None else getattr(file, "content_type", "") or "",
    )
    return attachment


def attachment_create_pending(
    *,
    channel_kind: str,
    conversation_id: int | None = None,
    uploader_kind: str = UploaderKind.PLATFORM,
    uploader_id: str,
    name: str = "",
    claimed_type: str = "",
) -> Attachment:
    """A placeholder for platform media still to be fetched: clients show it as "downloading" until
    fetch_remote_media (or attachment_store_bytes) fills it in or marks it failed. While pending,
    content_type holds what the platform declared."""
    _uploader_check(uploader_kind, uploader_id)
    media_policy_get(channel_kind=channel_kind)
    return Attachment.objects.create(
        channel_kind=channel_kind,
        conversation_id=conversation_id,
        uploader_kind=uploader_kind,
        uploader_id=str(uploader_id),
        original_name=name_sanitize(name) if name else "",
        content_type=claimed_type[:100],
        status=AttachmentStatus.PENDING,
    )


def media_policies_ensure() -> list[str]:
    """Create the default policy of every channel kind that has none; returns the kinds created."""
    created = []
    for kind in ChannelKind.values:
        defaults = DEFAULT_POLICIES.get(kind, {"max_size": settings.MEDIA_DEFAULT_MAX_SIZE, "allowed_families": _ALL})
        _, made = MediaPolicy.objects.get_or_create(
            channel_kind=kind,
            defaults={**defaults, "retention_days": settings.MEDIA_DEFAULT_RETENTION_DAYS},
        )
        if made:
            created.append(kind)
    return created


def attachment_mark_failed(*, attachment: Attachment, reason: str) -> Attachment:
    attachment.status = AttachmentStatus.FAILED
    attachment.error = text_clean(reason)[:255]  # reasons quote what platforms and servers said
    attachment.save(update_fields=["status", "error"])
    return attachment


def attachment_store_bytes(
    *,
    attachment: Attachment,
    content: bytes | File | IO[bytes],
    name: str = "",
    claimed_type: str = "",
) -> Attachment:
    """Fill a pending attachment with the platform's file, through the same checks as an upload. A
    refused file marks the attachment failed with the reason, then raises the ValidationError."""
    if attachment.status == AttachmentStatus.READY:
        raise ValidationError("This attachment already has its file.", code="already_stored")
    if isinstance(content, bytes):
        content = ContentFile(content)
    try:
        _store_checked(
            attachment=attachment,
            file=content,
            name=name or attachment.original_name,
            claimed_type=claimed_type or attachment.content_type,
        )
    except ValidationError as exc:
        attachment_mark_failed(attachment=attachment, reason=" ".join(exc.messages))
        raise
    return attachment


def attachment_fetch_remote(
    *, attachment_id: int, url: str, headers: dict[str, str] | None = None
) -> Attachment | None:
    """Download a pending attachment's file and store it. Permanent failures mark it failed with the
    reason; media.remote.RemoteFetchTemporary propagates so the caller can retry. Already settled or
    deleted attachments are left alone (a redelivered task is a no-op)."""
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None or attachment.status != AttachmentStatus.PENDING:
        return attachment
    policy = media_policy_get(channel_kind=attachment.channel_kind)
    try:
        download = remote_download(url=url, headers=headers, max_size=policy.max_size)
    except RemoteFetchRefused as exc:
        return attachment_mark_failed(attachment=attachment, reason=str(exc))
    # A refused file is already marked failed with the reason.
    with download.file, contextlib.suppress(ValidationError):
        attachment_store_bytes(
            attachment=attachment,
            content=File(download.file),
            name=attachment.original_name or download.name,
            claimed_type=attachment.content_type or download.content_type,
        )
    return attachment


@transaction.atomic
def attachment_attach(
    *, attachment_ids: Iterable[int], conversation_id: int, uploader_kind: str, uploader_id: str
) -> list[Attachment]:
    """Bind uploaded files to the conversation a message is sent in, in the order given. Each must
    belong to this uploader and be unattached or already in this conversation; otherwise a
    ValidationError names the first offending id and nothing changes. Call it inside the transaction
    that stores the message."""
    try:
        ids = list(dict.fromkeys(int(i) for i in attachment_ids if not isinstance(i, bool)))
    except (TypeError, ValueError) as exc:
        raise ValidationError("attachment_ids must be a list of attachment ids.", code="bad_attachment") from exc
    if len(ids) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise ValidationError(
            f"At most {MAX_ATTACHMENTS_PER_MESSAGE} attachments per message.", code="too_many_attachments"
        )
    rows = {
        a.pk: a
        for a in Attachment.objects.select_for_update()
        .filter(pk__in=ids, uploader_kind=uploader_kind, uploader_id=str(uploader_id))
        .order_by("pk")
    }
    for attachment_id in ids:
        attachment = rows.get(attachment_id)
        # Someone else's attachment reads the same as a missing one: ids reveal nothing.
        if attachment is None:
            raise ValidationError(
                f"Attachment {attachment_id} does not exist or is not yours.", code="unknown_attachment"
            )
        if attachment.conversation_id not in (None, conversation_id):
            raise ValidationError(
                f"Attachment {attachment_id} was already sent in another conversation.", code="attached_elsewhere"
            )
        if attachment.status == AttachmentStatus.FAILED:
            raise ValidationError(f"Attachment {attachment_id} failed: {attachment.error}", code="attachment_failed")
    unattached = [pk for pk, a in rows.items() if a.conversation_id is None]
    if unattached:
        Attachment.objects.filter(pk__in=unattached).update(conversation_id=conversation_id)
    for attachment in rows.values():
        attachment.conversation_id = conversation_id
    return [rows[i] for i in ids]


def attachment_delete(*, attachment: Attachment) -> None:
    """Delete the row now and its files once the transaction commits (a rollback keeps both)."""
    storage = attachment.file.storage
    names = [attachment.file.name, attachment.thumbnail.name]
    attachment.delete()
    transaction.on_commit(lambda: _files_delete(storage, names))


def attachments_purge_expired(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Delete what retention says is due (attachments_past_retention); returns how many went."""
    deleted = 0
    failed: set[int] = set()
    while True:
        due = attachments_past_retention(now=now).exclude(pk__in=failed)
        batch = list(due.order_by("pk")[:batch_size])
        if not batch:
            return deleted
        for attachment in batch:
            # One attachment that cannot be deleted is logged and left for the next run; it never stops
            # (nor, coming first in every batch, stalls for ever) the purge of the others.
            try:
                with transaction.atomic():
                    attachment_delete(attachment=attachment)
            except Exception:
                logger.exception("Could not purge attachment %s", attachment.pk)
                failed.add(attachment.pk)
                continue
            deleted += 1
