"""CRM core: contacts, their identities on each channel, companies, notes and tags."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    """Where an identity lives. The switch's inboxes use the same kinds."""

    WEB = "web", _("Web widget")
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")
    API = "api", _("API channel")
    EMAIL = "email", _("Email")


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)
    color = models.CharField(
        max_length=7,
        default="#6b7280",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f6feb."))],
    )

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Company(models.Model):
    name = models.CharField(max_length=200, unique=True)
    domain = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    custom_attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("company")
        ordering = ["name"]
        verbose_name_plural = _("companies")

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    name = models.CharField(max_length=200, blank=True, db_index=True)
    # Several addresses and numbers per person; the first is the preferred one.
    emails = models.JSONField(default=list, blank=True)
    phones = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, blank=True, help_text=_("BCP 47 tag, e.g. en, fr, zh-Hans."))
    timezone = models.CharField(max_length=64, blank=True, help_text=_("IANA name, e.g. Europe/Paris."))
    company = models.ForeignKey(Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts")
    custom_attributes = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-updated_at", "-id"]
        permissions = [("merge_contacts", "Can merge contacts")]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("crm:contact_detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        return self.display_name_of(self.pk, self.name, self.emails, self.phones)

    @staticmethod
    def display_name_of(pk: int, name: str, emails: list[str], phones: list[str]) -> str:
        """The display name from the row's values (for readers that load values, not instances)."""
        return name or (emails[0] if emails else "") or (phones[0] if phones else "") or f"Contact #{pk}"

    @property
    def verified(self) -> bool:
        """Has a channel proved who this is (an identity with verified_at: a site's HMAC of its id)?"""
        return any(identity.verified_at is not None for identity in self.identities.all())

    @property
    def primary_email(self) -> str:
        return self.emails[0] if self.emails else ""

    @property
    def primary_phone(self) -> str:
        return self.phones[0] if self.phones else ""


class ContactIdentity(models.Model):
    """One contact's address on one channel: a Telegram user id, a WhatsApp number, a widget visitor."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    external_id = models.CharField(max_length=191)
    display_name = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Set when the channel proved the address: a site's HMAC of its logged-in customer's id (the web
    # widget's identified visitors). Never set from what a visitor merely claims.
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact identity")
        verbose_name_plural = _("contact identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "external_id"], name="crm_identity_unique_kind_external")
        ]
        ordering = ["kind", "external_id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.external_id}"


class Note(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("note")
        verbose_name_plural = _("notes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.body[:60]


class ContactMerge(models.Model):
    """The audit trail of merges: what was folded into what, by whom, and what moved."""

    target = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges_received")
    source_id = models.BigIntegerField()
    source_snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contact merge")
        verbose_name_plural = _("contact merges")
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return f"#{self.source_id} → #{self.target_id}"
