"""fetch_remote_media against a local HTTP server standing in for a platform's media endpoint."""

from __future__ import annotations

import pytest

from media import tasks
from media.models import Attachment, AttachmentStatus
from media.services import attachment_create_pending, attachment_store_bytes
from tests.factories.media import EXE_BYTES, PDF_BYTES, MediaPolicyFactory, image_bytes
from tests.media.conftest import Reply

pytestmark = pytest.mark.django_db


def test_retries_back_off_exponentially_with_jitter_up_to_ten_minutes():
    assert 4 <= tasks.backoff_seconds(0) <= 6
    assert 32 <= tasks.backoff_seconds(3) <= 48
    assert 480 <= tasks.backoff_seconds(20) <= 720


def _pending(**kwargs) -> Attachment:
    return attachment_create_pending(channel_kind="whatsapp", conversation_id=12, uploader_id="inbox-3", **kwargs)


def test_a_platform_photo_is_fetched_cleaned_and_ready(platform):
    url = platform.reply(
        "/media/abc", Reply(200, image_bytes("JPEG", (100, 80), exif_gps=True), {"Content-Type": "image/jpeg"})
    )
    attachment = _pending()
    assert attachment.status == AttachmentStatus.PENDING

    tasks.fetch_remote_media.delay(attachment.pk, url, {"Authorization": "Bearer platform-token"})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.READY, attachment.error
    assert attachment.content_type == "image/jpeg" and attachment.thumbnail
    assert attachment.original_name == "abc.jpg"
    assert platform.request_headers[0]["Authorization"] == "Bearer platform-token"
    with attachment.file.open("rb") as stored:
        assert b"SpyCam" not in stored.read()


def test_a_file_over_the_channel_limit_fails_with_the_reason(platform):
    MediaPolicyFactory(channel_kind="whatsapp", max_size=10_000)
    url = platform.reply("/media/big", Reply(200, b"a" * 20_000, {"Content-Type": "text/plain"}))
    attachment = _pending(name="big.txt")

    tasks.fetch_remote_media.delay(attachment.pk, url, {})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.FAILED
    assert "too large" in attachment.error and "10000" in attachment.error
    assert not attachment.file
    assert platform.hits["/media/big"] == 1  # permanent: not retried


def test_a_server_error_is_retried_then_succeeds(platform):
    url = platform.reply(
        "/media/flaky",
        Reply(500, b"oops"),
        Reply(503, b"busy"),
        Reply(200, PDF_BYTES, {"Content-Type": "application/pdf"}),
    )
    attachment = _pending(name="statement.pdf")

    tasks.fetch_remote_media.delay(attachment.pk, url, {})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.READY
    assert platform.hits["/media/flaky"] == 3


def test_a_permanent_404_fails_at_once_with_the_reason(platform):
    attachment = _pending(name="gone.jpg")

    tasks.fetch_remote_media.delay(attachment.pk, platform.base_url + "/media/gone", {})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.FAILED
    assert attachment.error == "The platform answered HTTP 404 Not Found."
    assert platform.hits["/media/gone"] == 1


def test_an_endless_outage_gives_up_after_the_retries(platform, settings):
    settings.MEDIA_FETCH_MAX_RETRIES = 2
    url = platform.reply("/media/down", Reply(502, b"bad gateway"))
    attachment = _pending(name="x.pdf")

    tasks.fetch_remote_media.delay(attachment.pk, url, {})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.FAILED
    assert attachment.error.startswith("Gave up after 3 attempts") and "HTTP 502" in attachment.error
    assert platform.hits["/media/down"] == 3


def test_a_disguised_platform_file_fails_with_the_reason(platform):
    url = platform.reply("/media/fake.jpg", Reply(200, EXE_BYTES, {"Content-Type": "image/jpeg"}))
    attachment = _pending()

    tasks.fetch_remote_media.delay(attachment.pk, url, {})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.FAILED and "program" in attachment.error


def test_link_local_addresses_are_never_fetched():
    attachment = _pending(name="meta.txt")
    tasks.fetch_remote_media.delay(attachment.pk, "http://169.254.169.254/latest/meta-data/", {})
    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.FAILED and "Refusing" in attachment.error


def test_a_redelivered_task_leaves_a_ready_attachment_alone(platform):
    attachment = _pending(name="a.pdf")
    attachment_store_bytes(attachment=attachment, content=PDF_BYTES)
    stored_name = attachment.file.name

    tasks.fetch_remote_media.delay(attachment.pk, platform.base_url + "/media/whatever", {})

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.READY and attachment.file.name == stored_name
    assert platform.hits == {}
