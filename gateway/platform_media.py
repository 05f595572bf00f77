"""Files customers send on a platform: a pending attachment per file while the message is stored, then
the download after commit (the `platform_media_fetch` task), or the attachment marked failed.

The adapter knows where a platform keeps a file and how to authenticate; the media app checks and
stores what is downloaded. The platform's credentials stay in this process: they never travel through
the broker (the task carries the attachment id, the inbox id and the platform's file reference)."""

from __future__ import annotations

from gateway import selectors
from gateway.base import InboundMessage, InboxInfo, MediaRef
from gateway.platform_http import http_client
from gateway.registry import adapter_for_inbox
from media.models import Attachment
from media.services import attachment_create_pending, attachment_fetch_remote, attachment_mark_failed

# Files taken from one platform message; more are left out.
PLATFORM_MEDIA_MAX = 10


def platform_media_pending(*, inbox: InboxInfo, channel_kind: str, message: InboundMessage) -> list[int]:
    """A pending attachment per platform file, so the message shows them as downloading at once; the
    files are fetched after commit (platform_media_fetch)."""
    return [
        attachment_create_pending(
            channel_kind=channel_kind,
            uploader_kind="platform",
            uploader_id=str(inbox.id),
            name=ref.name,
            claimed_type=ref.content_type,
        ).pk
        for ref in message.media[:PLATFORM_MEDIA_MAX]
    ]


def platform_media_fetch(*, attachment_id: int, inbox_id: int, ref: dict[str, str]) -> None:
    """Resolve a platform's file reference to a download (the adapter knows the platform's API and
    auth) and hand it to the media app, which checks and stores it."""
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if inbox is None or adapter is None:
        return
    with http_client() as client:
        url, headers = adapter.media_source(inbox, client, MediaRef(**ref))
    attachment_fetch_remote(attachment_id=attachment_id, url=url, headers=headers)


def platform_media_failed(*, attachment_id: int, reason: str) -> None:
    """Mark a still-pending attachment failed with the reason, so the agent never sees it downloading
    for ever."""
    attachment = Attachment.objects.filter(pk=attachment_id, status="pending").first()
    if attachment is not None:
        attachment_mark_failed(attachment=attachment, reason=reason)
