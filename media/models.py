"""Attachments and the per-channel rules they are checked against.

An attachment knows its conversation only by id (the media app never imports the switch), and it is
stored under a random name: nothing about the original name or the uploader can be read from a URL.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import ChannelKind


class UploaderKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    PLATFORM = "platform", _("Platform (fetched from an IM platform)")


class AttachmentStatus(models.TextChoices):
    PENDING = "pending", _("Pending (being fetched)")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class TypeFamily(models.TextChoices):
    """What a policy allows, by the type read from the bytes (never the name or the declared type)."""

    IMAGE = "image", _("Images (PNG, JPEG, GIF, WebP)")
    PDF = "pdf", _("PDF")
    AUDIO = "audio", _("Audio")
    VIDEO = "video", _("Video")
    DOCUMENT = "document", _("Office documents")
    TEXT = "text", _("Plain text and CSV")


def _random_stem() -> str:
    return secrets.token_urlsafe(24)


def stored_name(instance: Attachment, filename: str) -> str:
    """A random, unguessable name under a date prefix; only the extension of the sniffed type is kept."""
    extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return timezone.now().strftime(f"attachments/%Y/%m/%d/{_random_stem()}.{extension}")


def thumbnail_name(instance: Attachment, filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1] if "." in filename else "jpg"
    return timezone.now().strftime(f"attachments/%Y/%m/%d/{_random_stem()}.thumb.{extension}")


class MediaPolicy(models.Model):
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices, unique=True)
    max_size = models.PositiveBigIntegerField(
        help_text=_("Largest file accepted, in bytes."),
        validators=[MinValueValidator(1)],
    )
    allowed_families = models.JSONField(default=list, blank=True, help_text=_("Type families accepted."))
    retention_days = models.PositiveIntegerField(
        default=365, help_text=_("Delete attachments older than this many days; 0 keeps them forever.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("media policy")
        ordering = ["channel_kind"]
        verbose_name_plural = _("media policies")

    def __str__(self) -> str:
        return f"Media policy: {self.get_channel_kind_display()}"

    def clean(self) -> None:
        unknown = set(self.allowed_families or []) - set(TypeFamily.values)
        if unknown:
            raise ValidationError(
                {"allowed_families": _("Unknown type families: %(names)s") % {"names": ", ".join(sorted(unknown))}}
            )
        # The ceiling is a deployment setting, checked here rather than as a field validator so that
        # changing it does not change the model (and ask for a migration).
        if self.max_size and self.max_size > settings.MEDIA_MAX_UPLOAD_SIZE:
            raise ValidationError(
                {
                    "max_size": _("At most %(size)s bytes (MEDIA_MAX_UPLOAD_SIZE).")
                    % {"size": settings.MEDIA_MAX_UPLOAD_SIZE}
                }
            )


class Attachment(models.Model):
    conversation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    channel_kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    uploader_kind = models.CharField(max_length=16, choices=UploaderKind.choices)
    uploader_id = models.CharField(max_length=64)
    original_name = models.CharField(max_length=255, blank=True)
    file = models.FileField(upload_to=stored_name, max_length=255, blank=True)
    content_type = models.CharField(max_length=100, blank=True, help_text=_("Sniffed from the bytes."))
    family = models.CharField(max_length=16, choices=TypeFamily.choices, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    thumbnail = models.FileField(upload_to=thumbnail_name, max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=AttachmentStatus.choices, default=AttachmentStatus.PENDING)
    error = models.CharField(
        max_length=255, blank=True, help_text=_("Why the file was refused or could not be fetched.")
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["channel_kind", "created_at"], name="media_att_kind_created"),
            models.Index(fields=["uploader_kind", "uploader_id"], name="media_att_uploader"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_name or '(unnamed)'}"

    @property
    def uploader_scope(self) -> str:
        return f"{self.uploader_kind}:{self.uploader_id}"
