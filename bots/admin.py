"""Admin for the automatic responses: flows with their ordered steps inline, business hours with weekly
hours and special days inline, FAQ entries, and the read-only records (FAQ log, surveys, bot sessions)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bots import engine, hours
from bots.models import (
    BotFlow,
    BotSession,
    BusinessHours,
    FaqEntry,
    FaqLog,
    FlowStep,
    SpecialDay,
    SurveyResponse,
    WeeklyHours,
)


class FlowStepFormSet(forms.BaseInlineFormSet):
    """Checks the whole flow as it will run (keys, jumps, options) before anything is saved."""

    def clean(self) -> None:
        super().clean()
        steps = []
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            data = form.cleaned_data
            options = data.get("options") or []
            if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
                raise ValidationError(f"Step {data.get('key')!r}: options must be a list of objects.")
            steps.append(
                {
                    "position": data.get("position") or 0,
                    "key": data.get("key"),
                    "kind": data.get("kind"),
                    "text": data.get("text"),
                    "next": data.get("next_step") or "",
                    "options": options,
                    "field": data.get("capture_field") or "",
                }
            )
        steps.sort(key=lambda step: step["position"])
        try:
            engine.flow_validate({"steps": steps})
        except engine.FlowError as exc:
            raise ValidationError(str(exc)) from None


class FlowStepInline(admin.StackedInline):
    model = FlowStep
    formset = FlowStepFormSet
    extra = 0
    ordering = ["position", "id"]
    fields = [
        ("position", "key", "kind"),
        "text",
        "options",
        ("capture_field", "invalid_text"),
        ("queue", "skills"),
        "next_step",
    ]


@admin.register(BotFlow)
class BotFlowAdmin(admin.ModelAdmin):
    list_display = ["name", "inbox", "is_active", "business_hours", "faq_enabled", "faq_threshold", "survey_enabled"]
    list_filter = ["is_active", "faq_enabled", "survey_enabled"]
    search_fields = ["name", "inbox__name", "inbox__key"]
    inlines = [FlowStepInline]
    fieldsets = [
        (None, {"fields": ["name", "inbox", "is_active", "language", "business_hours", "closed_notice"]}),
        ("Hand-over", {"fields": ["handover_words", "max_attempts", "after_hours_priority"]}),
        ("FAQ", {"fields": ["faq_enabled", "faq_threshold"]}),
        (
            "Timers",
            {"fields": ["queue_update_every_s", "idle_reminder_after_s", "idle_close_after_s", "idle_when_assigned"]},
        ),
        ("Survey", {"fields": ["survey_enabled"]}),
        (
            "Texts (empty: the built-in text; plain text or translations as JSON)",
            {"classes": ["collapse"], "fields": list(BotFlow.TEXT_FIELDS)},
        ),
    ]


class WeeklyHoursInline(admin.TabularInline):
    model = WeeklyHours
    extra = 0


class SpecialDayInline(admin.TabularInline):
    model = SpecialDay
    extra = 0


class BusinessHoursForm(forms.ModelForm):
    class Meta:
        model = BusinessHours
        fields = ["name", "timezone"]

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"]
        try:
            hours.zone_get(value)
        except hours.ScheduleError as exc:
            raise ValidationError(str(exc)) from None
        return value


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    form = BusinessHoursForm
    list_display = ["name", "timezone"]
    search_fields = ["name"]
    inlines = [WeeklyHoursInline, SpecialDayInline]


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["title", "inbox", "is_active", "hits", "created_at"]
    list_filter = ["is_active", "inbox"]
    search_fields = ["title", "phrasings", "keywords"]

    @admin.display(description=_("answers given"))
    def hits(self, entry: FaqEntry) -> int:
        return entry.logs.filter(matched=True).count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the bots write; admins read them, never edit them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FaqLog)
class FaqLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "matched", "score", "query", "entry", "conversation_id"]
    list_filter = ["matched", "created_at"]
    search_fields = ["query"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ["conversation_id", "rating", "comment", "agent_id", "queue_id", "delivered", "sent_at"]
    list_filter = ["rating", "delivered", "sent_at"]
    search_fields = ["comment"]


@admin.register(BotSession)
class BotSessionAdmin(ReadOnlyAdmin):
    list_display = ["conversation_id", "flow", "survey_stage", "handed_over_at", "pending_since", "updated_at"]
    list_filter = ["flow", "survey_stage"]
