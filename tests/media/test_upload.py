"""attachment_upload on local storage: what is kept, what is refused, and that refusals leave nothing."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from media.models import Attachment, AttachmentStatus
from media.services import attachment_upload
from tests.factories.media import (
    EXE_BYTES,
    HTML_BYTES,
    PDF_BYTES,
    SVG_SCRIPT_BYTES,
    MediaPolicyFactory,
    image_bytes,
    upload,
)

pytestmark = pytest.mark.django_db


def _upload(file, channel_kind="web", uploader_id="c1"):
    return attachment_upload(file=file, channel_kind=channel_kind, uploader_kind="customer", uploader_id=uploader_id)


def _stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_pdf_is_stored_under_a_random_dated_name(local_storage):
    attachment = _upload(upload("Invoice 2024.pdf", PDF_BYTES, "application/pdf"))

    attachment.refresh_from_db()
    assert attachment.status == AttachmentStatus.READY
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF_BYTES)
    assert attachment.original_name == "Invoice 2024.pdf"
    assert attachment.conversation_id is None
    assert attachment.file.name.startswith("attachments/20")
    assert "Invoice" not in attachment.file.name and attachment.file.name.endswith(".pdf")
    assert len(attachment.file.name.rsplit("/", 1)[-1]) >= 32
    assert (local_storage / attachment.file.name).read_bytes() == PDF_BYTES
    import hashlib

    assert attachment.sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    assert not attachment.thumbnail


def test_photos_lose_exif_and_gps_are_turned_upright_and_get_a_thumbnail(local_storage):
    original = image_bytes("JPEG", (400, 300), exif_gps=True)
    assert b"SpyCam" in original and b"secret comment" in original

    attachment = _upload(upload("holiday.jpg", original, "image/jpeg"))

    stored = (local_storage / attachment.file.name).read_bytes()
    assert b"SpyCam" not in stored and b"secret comment" not in stored
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif() and "exif" not in image.info
    # The rotate-90 tag was applied to the pixels before it was dropped.
    assert (attachment.width, attachment.height) == (300, 400) == image.size
    thumbnail = Image.open(local_storage / attachment.thumbnail.name)
    assert max(thumbnail.size) <= 320 and thumbnail.format == "JPEG"
    assert not thumbnail.getexif()
    assert attachment.size == len(stored)


def test_transparent_png_gets_a_png_thumbnail(local_storage):
    attachment = _upload(upload("logo.png", image_bytes("PNG", (800, 200), mode="RGBA"), "image/png"))
    thumbnail = Image.open(local_storage / attachment.thumbnail.name)
    assert thumbnail.format == "PNG" and thumbnail.size == (320, 80)


def test_animated_gif_keeps_its_frames():
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"hidden")
    attachment = _upload(upload("wave.gif", buffer.getvalue(), "image/gif"))
    with attachment.file.open("rb") as stored:
        data = stored.read()
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert b"hidden" not in data


@pytest.mark.parametrize(
    ("name", "data", "claimed", "code"),
    [
        ("cute-cat.jpg", EXE_BYTES, "image/jpeg", "executable"),
        ("avatar.png", HTML_BYTES, "image/png", "markup"),
        ("logo.svg", SVG_SCRIPT_BYTES, "image/svg+xml", "svg"),
        ("logo.png", SVG_SCRIPT_BYTES, "image/png", "svg"),
        ("empty.txt", b"", "text/plain", "empty"),
        ("statement.pdf", image_bytes("PNG"), "application/pdf", "type_mismatch"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png", "bad_image"),
    ],
)
def test_disguised_empty_and_broken_files_are_refused_and_leave_nothing(local_storage, name, data, claimed, code):
    with pytest.raises(ValidationError) as caught:
        _upload(upload(name, data, claimed))
    assert caught.value.code == code
    assert not Attachment.objects.exists()
    assert _stored_files(local_storage) == []


def test_the_channel_policy_limits_size_and_type_families():
    MediaPolicyFactory(channel_kind="sms", max_size=1000, allowed_families=["image"])

    with pytest.raises(ValidationError) as too_large:
        _upload(upload("big.txt", b"a" * 1001, "text/plain"), channel_kind="sms")
    assert too_large.value.code == "too_large"

    with pytest.raises(ValidationError) as not_allowed:
        _upload(upload("doc.pdf", PDF_BYTES, "application/pdf"), channel_kind="sms")
    assert not_allowed.value.code == "type_not_allowed"
    assert "PDF are not accepted" in not_allowed.value.messages[0]

    assert _upload(upload("ok.png", image_bytes("PNG"), "image/png"), channel_kind="sms").status == "ready"


def test_names_are_sanitised_but_keep_unicode(local_storage):
    traversal = _upload(upload("../../../etc/cron.d/evil.txt", b"just text\n", "text/plain"))
    assert traversal.original_name == "evil.txt"
    assert (local_storage / traversal.file.name).exists()
    assert not (local_storage.parent / "etc").exists()

    unicode_name = _upload(upload("Счёт №5 — 請求書.pdf", PDF_BYTES, "application/pdf"))
    assert unicode_name.original_name == "Счёт №5 — 請求書.pdf"

    no_extension = _upload(upload("scan", PDF_BYTES, "application/pdf"))
    assert no_extension.original_name == "scan.pdf"


def test_an_unknown_channel_or_uploader_kind_is_refused():
    with pytest.raises(ValidationError):
        _upload(upload("a.txt", b"x", "text/plain"), channel_kind="pigeon")
    with pytest.raises(ValidationError):
        attachment_upload(
            file=upload("a.txt", b"x", "text/plain"), channel_kind="web", uploader_kind="robot", uploader_id="1"
        )
    assert not Attachment.objects.exists()
