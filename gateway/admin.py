"""Admin for the gateway's records, and the platform actions added to the switch's Inbox admin.

The Inbox admin belongs to the switch (imsubsystem/admin.py); the gateway adds its actions to the
registered ModelAdmin here, which Django's autodiscovery imports after the switch's admin module.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from gateway import inboxes, outbox, selectors
from gateway.models import InboundEvent, OutboxItem, OutboxState
from gateway.registry import adapter_for_inbox
from imsubsystem.models import Inbox


def webhook_url(request, inbox: Inbox) -> str | None:
    info = selectors.inbox_info_get(inbox_id=inbox.pk)
    adapter = adapter_for_inbox(info) if info else None
    if adapter is None:
        return None
    return request.build_absolute_uri(reverse("gateway:webhook", args=[adapter.kind, inbox.key]))


@admin.action(description=_("Show the webhook URL to give the platform"))
def show_webhook_url(modeladmin, request, queryset):
    for inbox in queryset:
        url = webhook_url(request, inbox)
        if url:
            messages.info(request, f"{inbox.name}: {url}")
        else:
            messages.warning(request, f"{inbox.name}: a {inbox.kind} inbox has no webhook.")


# Calling a platform with the inbox's secrets is a change, not a view: supervisors see inboxes only.
@admin.action(description=_("Check the platform connection"), permissions=["change"])
def check_connection(modeladmin, request, queryset):
    for inbox in queryset:
        try:
            messages.success(request, f"{inbox.name}: {inboxes.inbox_connection_check(inbox_id=inbox.pk)}")
        except ValidationError as exc:
            messages.error(request, f"{inbox.name}: {'; '.join(exc.messages)}")


@admin.action(description=_("Telegram: point the bot's webhook at this site (setWebhook)"), permissions=["change"])
def telegram_set_webhook(modeladmin, request, queryset):
    for inbox in queryset:
        url = webhook_url(request, inbox)
        try:
            if inbox.kind != "telegram" or url is None:
                raise ValidationError("Only Telegram inboxes have a webhook to set.")
            messages.success(request, f"{inbox.name}: {inboxes.telegram_webhook_set(inbox_id=inbox.pk, url=url)}")
        except ValidationError as exc:
            messages.error(request, f"{inbox.name}: {'; '.join(exc.messages)}")


GATEWAY_INBOX_ACTIONS = (show_webhook_url, check_connection, telegram_set_webhook)


def inbox_admin_extend(site: admin.AdminSite = admin.site) -> bool:
    """Add the gateway's actions to the registered Inbox admin; False when Inbox has no admin."""
    model_admin = site._registry.get(Inbox)
    if model_admin is None:
        return False
    current = list(model_admin.actions or [])
    model_admin.actions = [*current, *(a for a in GATEWAY_INBOX_ACTIONS if a not in current)]
    return True


inbox_admin_extend()


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "inbox_id",
        "event_kind",
        "platform_message_id",
        "sender_id",
        "sent_at",
        "received_at",
        "processed_at",
        "error",
    )
    list_filter = ("event_kind", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("platform_message_id", "sender_id")
    readonly_fields = [f.name for f in InboundEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description=_("Send the failed messages again"), permissions=["retry"])
def retry_failed(modeladmin, request, queryset):
    count = sum(outbox.outbox_retry(item_id=item.pk) for item in queryset.filter(state=OutboxState.FAILED))
    messages.info(request, f"{count} message(s) queued again; they go out on the next sweep.")


@admin.register(OutboxItem)
class OutboxItemAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "message_id",
        "conversation_id",
        "inbox_id",
        "recipient",
        "state",
        "attempts",
        "next_attempt_at",
        "delivery_status",
        "last_error",
    )
    list_filter = ("state", "delivery_status")
    search_fields = ("platform_message_id", "recipient")
    readonly_fields = [f.name for f in OutboxItem._meta.fields]
    actions = [retry_failed]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request) -> bool:
        # The rows are never edited by hand, but sending one again is a change: the model's own permission.
        return request.user.has_perm("gateway.change_outboxitem")
