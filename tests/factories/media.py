"""Attachments, media policies and the sample files the media tests feed them."""

from __future__ import annotations

import io

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from media.models import Attachment, AttachmentStatus, MediaPolicy, TypeFamily, UploaderKind


class MediaPolicyFactory(factory.django.DjangoModelFactory):
    """Sets the policy of a channel kind (the migrations already made one for each kind)."""

    class Meta:
        model = MediaPolicy

    channel_kind = "web"
    max_size = 1024 * 1024
    allowed_families = factory.LazyFunction(lambda: list(TypeFamily.values))
    retention_days = 30

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        policy, _ = model_class.objects.update_or_create(channel_kind=kwargs.pop("channel_kind"), defaults=kwargs)
        return policy


class AttachmentFactory(factory.django.DjangoModelFactory):
    """A ready text attachment stored in the default storage (no checks: use attachment_upload for those)."""

    class Meta:
        model = Attachment

    channel_kind = "web"
    uploader_kind = UploaderKind.CUSTOMER
    uploader_id = factory.Sequence(lambda n: f"c{n}")
    original_name = "notes.txt"
    file = factory.django.FileField(filename="f.txt", data=b"hello there\n")
    content_type = "text/plain"
    family = TypeFamily.TEXT
    size = 12
    status = AttachmentStatus.READY


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48), *, exif_gps: bool = False, mode="RGB") -> bytes:
    """An image; with exif_gps, a JPEG carrying a camera name, a GPS position and a rotate-90 tag."""
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    buffer = io.BytesIO()
    options: dict = {}
    if exif_gps:
        exif = image.getexif()
        exif[0x010F] = "SpyCam Inc"
        exif[0x0112] = 6  # rotate 90 degrees when shown
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
        options["exif"] = exif
        options["comment"] = b"secret comment"
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
HTML_BYTES = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_SCRIPT_BYTES = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
