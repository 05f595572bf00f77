"""Admin for outgoing webhooks: subscriptions (the secret shown, event types as checkboxes), deliveries
with their attempts, and the replay action (the permission to change deliveries). Writes go through
services.py, so the admin and the API apply the same checks."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from webhooks import services, tasks
from webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookSubscription


class SubscriptionForm(forms.ModelForm):
    target_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        label=capfirst(_("target url")),
        help_text=_("Where events are POSTed (http or https)."),
    )
    event_types = forms.MultipleChoiceField(
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        label=capfirst(_("event types")),
        help_text=_("The event types sent to this URL."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "target_url", "event_types", "team", "active")

    def clean(self):
        cleaned = super().clean()
        data = {
            "name": cleaned.get("name") or "",
            "target_url": cleaned.get("target_url") or "",
            "event_types": list(cleaned.get("event_types") or []),
            "team_id": cleaned["team"].pk if cleaned.get("team") else None,
        }
        try:
            services.target_url_check(data["target_url"])
            services.event_types_check(data["event_types"], team_id=data["team_id"])
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from exc
        return cleaned


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("id", "name", "target_url", "team", "active", "created_at")
    list_display_links = ("id", "name")
    list_filter = ("active", "team")
    search_fields = ("name", "target_url")
    readonly_fields = ("secret", "created_by", "created_at")
    fields = ("name", "target_url", "event_types", "team", "active", "secret", "created_by", "created_at")

    def save_model(self, request, obj, form, change):
        data = {
            "name": form.cleaned_data["name"],
            "target_url": form.cleaned_data["target_url"],
            "event_types": list(form.cleaned_data["event_types"]),
            "team_id": obj.team_id,
            "active": bool(form.cleaned_data.get("active")),
        }
        if change:
            saved = services.subscription_update(subscription_id=obj.pk, data=data)
        else:
            saved = services.subscription_create(data=data, created_by=request.user)
        obj.pk = saved.pk
        obj.secret = saved.secret

    def delete_model(self, request, obj):
        services.subscription_delete(subscription_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for pk in list(queryset.values_list("pk", flat=True)):
            services.subscription_delete(subscription_id=pk)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("started_at", "status_code", "duration_ms", "error", "response_snippet")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description=_("Replay: send the selected deliveries again"), permissions=["change"])
def replay(modeladmin, request, queryset):
    try:
        queued = services.delivery_replay(
            delivery_ids=list(queryset.values_list("pk", flat=True)),
            by_user=request.user,
            on_commit_drain=tasks.drain_later,
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
        return
    messages.success(request, f"{queued} deliveries queued again.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "subscription", "event_type", "status", "attempts", "conversation_id", "created_at")
    list_filter = ("status", "event_type", "subscription")
    search_fields = ("event_id",)
    actions = [replay]
    inlines = [AttemptInline]
    readonly_fields = (
        "subscription",
        "event_id",
        "event_type",
        "payload",
        "ordering_key",
        "conversation_id",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "retry_until",
        "lease_until",
        "delivered_at",
        "last_status_code",
        "last_error",
    )

    def has_add_permission(self, request):
        return False
