from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from media import services
from media.models import Attachment, MediaPolicy, TypeFamily
from media.selectors import attachments_past_retention, media_policy_expired_count


class MediaPolicyForm(forms.ModelForm):
    allowed_families = forms.MultipleChoiceField(
        choices=TypeFamily.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=capfirst(_("allowed families")),
        help_text=_("Type families accepted."),
    )

    class Meta:
        model = MediaPolicy
        fields = ("channel_kind", "max_size", "allowed_families", "retention_days")


@admin.register(MediaPolicy)
class MediaPolicyAdmin(admin.ModelAdmin):
    form = MediaPolicyForm
    list_display = ("channel_kind", "max_size_mb", "families", "retention_days", "past_retention_now")
    readonly_fields = ("past_retention_now", "updated_at")
    actions = ("count_past_retention",)

    @admin.display(description=_("max size (MB)"))
    def max_size_mb(self, obj: MediaPolicy) -> str:
        return f"{obj.max_size / (1024 * 1024):.1f}"

    @admin.display(description=_("allowed types"))
    def families(self, obj: MediaPolicy) -> str:
        return ", ".join(obj.allowed_families) or "(none)"

    @admin.display(description=_("retention would delete now (dry run)"))
    def past_retention_now(self, obj: MediaPolicy) -> int | str:
        return media_policy_expired_count(policy=obj) if obj.pk else "-"

    @admin.action(description=_("Count attachments retention would delete now (dry run, deletes nothing)"))
    def count_past_retention(self, request, queryset):
        now = timezone.now()
        per_policy = ", ".join(f"{p.channel_kind}: {media_policy_expired_count(policy=p, now=now)}" for p in queryset)
        total = attachments_past_retention(now=now).count()
        self.message_user(
            request,
            gettext("Past retention: %(per_policy)s. In all, with never-sent uploads: %(total)s.")
            % {"per_policy": per_policy, "total": total},
            messages.INFO,
        )


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "original_name",
        "content_type",
        "size",
        "status",
        "channel_kind",
        "uploader_kind",
        "uploader_id",
        "conversation_id",
        "created_at",
    )
    list_filter = ("status", "family", "channel_kind", "uploader_kind", "created_at")
    search_fields = ("original_name", "sha256", "uploader_id", "=conversation_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50
    # Files are shown by name only: an admin page link would be a permanent URL to the file.
    exclude = ("file", "thumbnail")
    readonly_fields = (
        "conversation_id",
        "channel_kind",
        "uploader_kind",
        "uploader_id",
        "original_name",
        "content_type",
        "family",
        "size",
        "sha256",
        "width",
        "height",
        "status",
        "error",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj: Attachment) -> None:
        services.attachment_delete(attachment=obj)

    def delete_queryset(self, request, queryset) -> None:
        for attachment in queryset:
            services.attachment_delete(attachment=attachment)
