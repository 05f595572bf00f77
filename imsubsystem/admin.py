"""Admin for inboxes, conversations (read-mostly: the switch's services own every state change) and
canned responses."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from imsubsystem import selectors
from imsubsystem.models import CannedResponse, CloseReason, Conversation, Inbox, Label, Message, identity_secret_new
from imsubsystem.selectors import webhook_path


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "key", "default_queue", "language", "is_active", "webhook_url")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "key")
    readonly_fields = ("webhook_url", "created_at", "identity_secret_shown")
    actions = ["identity_secret_renew"]

    def get_fields(self, request, obj=None):
        fields = [
            *("name", "kind", "key", "default_queue", "language", "is_active"),
            *("config", "webhook_url", "created_at"),
        ]
        # Secrets only for those who may change inboxes (supervisors see inboxes, not their secrets).
        if self.has_change_permission(request, obj):
            fields.insert(7, "credentials")
            if obj is None or obj.kind == "web":
                fields += ["identity_secret_shown", "identity_required"]
        return fields

    @admin.display(description=_("Identity secret"))
    def identity_secret_shown(self, obj: Inbox) -> str:
        # To copy into the site's server, which sends HMAC-SHA256(secret, customer id) with the id
        # (docs/interface.md, "Identified visitors").
        if obj is None or not obj.pk:
            return _("— (made when the inbox is saved)")
        return format_html('<code class="identity-secret">{}</code>', obj.identity_secret)

    @admin.action(description=_("Renew the identity secret (the site must use the new one)"), permissions=["change"])
    def identity_secret_renew(self, request, queryset) -> None:
        for inbox in queryset:
            inbox.identity_secret = identity_secret_new()
            inbox.save(update_fields=["identity_secret"])
        self.message_user(request, _("New identity secrets made: %(count)s.") % {"count": len(queryset)})

    @admin.display(description=_("Webhook URL"))
    def webhook_url(self, obj: Inbox) -> str:
        if obj is None or not obj.pk:
            return "—"
        path = webhook_path(obj)
        if not path:
            return "— (web widget: /api/v1/widget/…, /ws/v1/widget/)"
        return format_html("<code>{}</code>", path)


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("seq", "sender_kind", "sender_user", "text", "attachments", "private", "delivery_status", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("seq",)
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "contact", "inbox", "queue", "assignee", "status", "priority", "created_at", "closed_at")
    list_filter = (
        "status",
        "inbox",
        "queue",
        ("assignee", admin.RelatedOnlyFieldListFilter),
        "labels",
        "close_reason",
        "created_at",
    )
    search_fields = ("=id", "contact__name", "contact__emails", "wrap_up", "messages__text")
    list_select_related = ("contact", "inbox", "queue", "assignee")
    date_hierarchy = "created_at"
    inlines = [MessageInline]
    # Status, queue and assignee change only through the switch (docs/imsubsystem.md): here they are read.
    readonly_fields = (
        "contact",
        "inbox",
        "queue",
        "assignee",
        "status",
        "created_at",
        "first_queued_at",
        "queued_at",
        "assigned_at",
        "first_agent_reply_at",
        "last_message_at",
        "closed_at",
        "language",
        "last_seq",
        "customer_last_read_seq",
        "agent_last_read_seq",
        "labels",
        "close_reason",
        "snoozed_at",
        "snoozed_until",
    )
    fields = (*readonly_fields[:5], "priority", "wrap_up", *readonly_fields[5:])

    def has_add_permission(self, request) -> bool:
        return False

    def get_queryset(self, request):
        # The one visibility rule (a supervisor sees their teams' conversations, an admin every one).
        return super().get_queryset(request).filter(selectors.conversations_visible_q(user=request.user))


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    list_display = ("shortcut", "title", "owner")
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("shortcut", "title", "text")


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ("name", "swatch", "description", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "description")

    @admin.display(description=_("colour"))
    def swatch(self, obj: Label):
        # The colour passed colour_validate when saved; format_html escapes it all the same.
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;background:{}"></span> <code>{}</code>',
            obj.colour,
            obj.colour,
        )


@admin.register(CloseReason)
class CloseReasonAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "position", "is_active")
    list_editable = ("position", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "code")
