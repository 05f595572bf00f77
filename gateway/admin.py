"""Admin for the gateway's records, and the platform actions added to the switch's Inbox admin.

The Inbox admin belongs to the switch (imsubsystem/admin.py); the gateway registers a subclass of the
switch's InboxAdmin here with its forms per kind, its actions and its platform buttons
(PlatformInboxAdmin); Django's autodiscovery imports this module after the switch's admin module.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters

from gateway import inboxes, outbox, selectors
from gateway.forms import INBOX_SETTINGS_FORMS, SECRET_FIELDS, InboxSettingsForm, settings_form_for
from gateway.models import InboundEvent, OutboxItem, OutboxState
from gateway.registry import adapter_for_inbox
from imsubsystem.admin import InboxAdmin
from imsubsystem.models import INBOX_KINDS, Inbox

logger = logging.getLogger(__name__)


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
# Fields of the switch's Inbox admin that the kind's form replaces (config, credentials) or that the
# "Connect the platform" panel shows better (the webhook URL, absolute and ready to paste).
REPLACED_FIELDS = ("kind", "config", "credentials", "webhook_url", "created_at")


class PlatformInboxAdmin(InboxAdmin):
    """The switch's Inbox admin with a form per inbox kind (gateway/forms.py): typed, validated settings
    and write-only secrets instead of raw JSON, the kind chosen first and fixed after, and a panel with the
    webhook URL, the verify token and buttons that call the platform.

    Whoever may only view inboxes (a supervisor) gets the switch's read-only layout, without secrets.
    Fields the switch adds to its Inbox admin land in the first fieldset, before the kind's own.
    """

    change_form_template = "admin/imsubsystem/inbox/change_form.html"
    actions = [*(InboxAdmin.actions or ()), *GATEWAY_INBOX_ACTIONS]

    class Media:
        js = ("gateway/inbox_admin.js",)

    # Django's error reports (a 500 mailed or logged) show a request's POST data: not the secrets typed here.
    @method_decorator(sensitive_post_parameters(*SECRET_FIELDS))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def settings_form(self, request, obj: Inbox | None = None) -> type[InboxSettingsForm] | None:
        """The kind's form, for those who may edit (add or change) this inbox; None otherwise."""
        if obj is None:
            return settings_form_for(request.GET.get("kind")) if self.has_add_permission(request) else None
        return settings_form_for(obj.kind) if self.has_change_permission(request, obj) else None

    def get_fieldsets(self, request, obj=None):
        form = self.settings_form(request, obj)
        if form is None:
            return super().get_fieldsets(request, obj)
        shared = [f for f in self.get_fields(request, obj) if f not in REPLACED_FIELDS]
        fieldsets = [(None, {"fields": ["kind", *shared] if obj else shared}), *form.sections]
        if obj is not None:
            fieldsets.append((_("Record"), {"fields": ("created_at",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # An inbox's kind never changes: its conversations, contacts' identities and webhook URL belong to
        # its platform. Another platform is another inbox.
        return [*readonly, "kind"] if obj is not None else readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = self.settings_form(request, obj)
        if form is not None:
            kwargs["form"] = form
        return super().get_form(request, obj, change=change, **kwargs)

    def add_view(self, request, form_url="", extra_context=None):
        kind = request.GET.get("kind")
        if not self.has_add_permission(request):
            raise PermissionDenied
        if settings_form_for(kind) is None:
            return self.kind_choose_view(request)
        title = _("Add %(kind)s inbox") % {"kind": dict(INBOX_KINDS)[kind]}
        return super().add_view(request, form_url, {"title": title, **(extra_context or {})})

    def kind_choose_view(self, request):
        def link(kind: str) -> str:
            # Keep the rest of the query: a popup from another admin's "add another" and its _to_field.
            query = request.GET.copy()
            query["kind"] = kind
            return f"?{query.urlencode()}"

        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Add inbox: choose its platform"),
            "kinds": [(link(value), label) for value, label in INBOX_KINDS if value in INBOX_SETTINGS_FORMS],
            "is_popup": IS_POPUP_VAR in request.GET,
        }
        return TemplateResponse(request, "admin/imsubsystem/inbox/choose_kind.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if obj is not None and self.has_change_permission(request, obj):
            extra["platform_setup"] = self.platform_setup(request, obj)
        return super().change_view(request, object_id, form_url, extra)

    def platform_setup(self, request, inbox: Inbox) -> dict[str, Any] | None:
        """What the admin gives the platform (webhook URL, WhatsApp's verify token) and the buttons that
        call it; None for the web widget."""
        url = webhook_url(request, inbox)
        if url is None:
            return None
        info = self.opts.app_label, self.opts.model_name
        credentials = inbox.credentials or {}
        cloud_whatsapp = inbox.kind == "whatsapp" and (inbox.config or {}).get("provider") != "twilio"
        return {
            "webhook_url": url,
            # Meta asks for it when the webhook is subscribed; it guards that handshake and nothing else.
            "verify_token": credentials.get("verify_token", "") if cloud_whatsapp else "",
            "check_url": reverse("admin:{}_{}_check_connection".format(*info), args=[inbox.pk]),
            "telegram_url": (
                reverse("admin:{}_{}_telegram_webhook".format(*info), args=[inbox.pk])
                if inbox.kind == "telegram"
                else ""
            ),
        }

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        own = [
            path(
                "<path:object_id>/check-connection/",
                self.admin_site.admin_view(self.connection_check_view),
                name="{}_{}_check_connection".format(*info),
            ),
            path(
                "<path:object_id>/telegram-webhook/",
                self.admin_site.admin_view(self.telegram_webhook_view),
                name="{}_{}_telegram_webhook".format(*info),
            ),
        ]
        return own + super().get_urls()

    def _platform_call(self, request, object_id: str, call) -> HttpResponseRedirect:
        """Run one platform call for a change button: POST only, with the permission to change the inbox;
        every outcome is a message on the change page, never an error page."""
        inbox = self.get_object(request, unquote(object_id))
        if inbox is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, inbox):
            raise PermissionDenied
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[inbox.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        try:
            messages.success(request, call(inbox))
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        except Exception as exc:  # a platform answering in a way nobody foresaw is still a message
            logger.exception("Inbox %s: the platform call failed", inbox.pk)
            messages.error(request, _("The call failed unexpectedly (%(error)s).") % {"error": type(exc).__name__})
        return HttpResponseRedirect(change_url)

    def connection_check_view(self, request, object_id):
        return self._platform_call(request, object_id, lambda inbox: inboxes.inbox_connection_check(inbox_id=inbox.pk))

    def telegram_webhook_view(self, request, object_id):
        def register(inbox: Inbox) -> str:
            url = webhook_url(request, inbox)
            if inbox.kind != "telegram" or url is None:
                raise ValidationError(_("Only Telegram inboxes have a webhook to set."))
            return inboxes.telegram_webhook_set(inbox_id=inbox.pk, url=url)

        return self._platform_call(request, object_id, register)


admin.site.unregister(Inbox)
admin.site.register(Inbox, PlatformInboxAdmin)


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
