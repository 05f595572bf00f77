"""Admin for the automatic responses: flows with their ordered steps inline (a form per step kind, a preview
of the conversation), business hours as a weekly grid with holidays inline, FAQ entries with a "try a
question" box, and the read-only records (FAQ log, surveys, bot sessions). The forms are in bots/forms.py."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from bots import engine, matcher, preview, selectors
from bots.forms import BotFlowForm, BusinessHoursForm, FlowStepForm, FlowStepFormSet, SpecialDayFormSet
from bots.models import (
    BotFlow,
    BotSession,
    BusinessHours,
    FaqEntry,
    FaqLog,
    FlowStep,
    SpecialDay,
    SurveyResponse,
)
from bots.texts import text_pick
from routing.models import Queue


class FlowStepInline(admin.StackedInline):
    model = FlowStep
    form = FlowStepForm
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
    form = BotFlowForm
    list_display = ["name", "inbox", "is_active", "business_hours", "faq_enabled", "faq_threshold", "survey_enabled"]
    list_filter = ["is_active", "faq_enabled", "survey_enabled"]
    search_fields = ["name", "inbox__name", "inbox__key"]
    inlines = [FlowStepInline]
    change_form_template = "admin/bots/botflow/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "inbox", "is_active", "language", "business_hours", "closed_notice"]}),
        (_("Hand-over"), {"fields": ["handover_words", "max_attempts", "after_hours_priority"]}),
        (_("FAQ"), {"fields": ["faq_enabled", "faq_threshold"]}),
        (
            _("Timers"),
            {"fields": ["queue_update_every_s", "idle_reminder_after_s", "idle_close_after_s", "idle_when_assigned"]},
        ),
        (_("Survey"), {"fields": ["survey_enabled"]}),
        (
            _("Texts (empty: the built-in text; a row per language)"),
            {"classes": ["collapse"], "fields": list(BotFlow.TEXT_FIELDS)},
        ),
    ]

    class Media:
        css = {"all": ["bots/flow_admin.css"]}
        js = ["bots/flow_editor.js"]

    def get_urls(self):
        preview = path(
            "<path:object_id>/preview/", self.admin_site.admin_view(self.preview_view), name="bots_botflow_preview"
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request, object_id):
        flow = self.get_object(request, object_id)
        if flow is None or not self.has_view_permission(request, flow):
            raise Http404
        spec = selectors.flow_spec(flow=flow)
        languages = list(
            dict.fromkeys([flow.language, flow.inbox.language, *(code for code, _n in settings.LANGUAGES)])
        )
        language = request.GET.get("language") or flow.inbox.language or flow.language
        buttons = request.GET.get("presentation", "buttons") != "numbered"
        error = ""
        try:
            engine.flow_validate(spec)
            branches = preview.flow_branches(
                spec,
                language=language,
                inbox_language=flow.inbox.language,
                buttons=buttons,
                queue_names=dict(Queue.objects.values_list("pk", "name")),
            )
        except engine.FlowError as exc:
            branches, error = [], str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": flow,
            "title": gettext("Preview of %(flow)s") % {"flow": flow},
            "branches": branches,
            "error": error,
            "languages": [code for code in languages if code],
            "language": language,
            "buttons": buttons,
        }
        return TemplateResponse(request, "admin/bots/botflow/preview.html", context)


class SpecialDayInline(admin.TabularInline):
    model = SpecialDay
    formset = SpecialDayFormSet
    extra = 1
    verbose_name = _("holiday or special day")
    verbose_name_plural = _("holidays and special days (no hours: closed all day; with hours: they replace the week's)")


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    form = BusinessHoursForm
    list_display = ["name", "timezone", "queue_names"]
    search_fields = ["name"]
    inlines = [SpecialDayInline]
    fields = ["name", "timezone", "weekly_grid", "queues"]

    class Media:
        css = {"all": ["bots/flow_admin.css"]}

    @admin.display(description=_("queues"))
    def queue_names(self, schedule: BusinessHours) -> str:
        return ", ".join(Queue.objects.filter(business_hours_id=schedule.pk).values_list("name", flat=True))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.weekly_save()
        form.queues_save()


class FaqTryForm(forms.Form):
    question = forms.CharField(label=_("Question"), max_length=500, widget=forms.TextInput(attrs={"size": 60}))
    language = forms.ChoiceField(label=_("Language"), required=False)
    inbox = forms.ModelChoiceField(
        queryset=FaqEntry._meta.get_field("inbox").remote_field.model.objects.all(),
        required=False,
        label=_("Inbox"),
        empty_label=_("Every entry"),
        help_text=_(
            "The entries this inbox answers with (its own and those of every inbox), and its flow's threshold."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [(code, name) for code, name in settings.LANGUAGES] + [("fr", "Français")]


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["title", "inbox", "is_active", "hits", "created_at"]
    list_filter = ["is_active", "inbox"]
    search_fields = ["title", "phrasings", "keywords"]
    change_list_template = "admin/bots/faqentry/change_list.html"

    class Media:
        css = {"all": ["bots/flow_admin.css"]}
        js = ["bots/flow_editor.js"]

    @admin.display(description=_("answers given"))
    def hits(self, entry: FaqEntry) -> int:
        return entry.logs.filter(matched=True).count()

    def get_urls(self):
        try_view = path("try/", self.admin_site.admin_view(self.try_view), name="bots_faqentry_try")
        return [try_view, *super().get_urls()]

    def try_view(self, request):
        """A question run through the bot's own matcher (bots.matcher) against the FAQ: the best entries,
        their scores and whether the bot would answer."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = FaqTryForm(request.GET or None, initial={"language": get_language()})
        results, threshold = [], FaqThreshold.DEFAULT
        if form.is_valid():
            inbox = form.cleaned_data["inbox"]
            language = form.cleaned_data["language"] or get_language()
            flow = selectors.flow_for_inbox(inbox_id=inbox.pk) if inbox else None
            threshold = flow.faq_threshold if flow else FaqThreshold.DEFAULT
            entries = selectors.faq_entries_for(inbox_id=inbox.pk if inbox else None)
            by_id = {entry["id"]: entry for entry in entries}
            titles = dict(FaqEntry.objects.filter(pk__in=by_id).values_list("pk", "title"))
            ranked = matcher.faq_rank(form.cleaned_data["question"], entries)
            for place, match in enumerate(ranked):
                results.append(
                    {
                        "entry_id": match.entry_id,
                        "title": titles.get(match.entry_id, ""),
                        "score": match.score,
                        "phrasing": match.phrasing,
                        "answers": place == 0 and match.score >= threshold,
                        "answer": text_pick(
                            by_id[match.entry_id]["answer"],
                            language,
                            inbox.language if inbox else None,
                            flow.language if flow else None,
                        ),
                    }
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Try a question"),
            "form": form,
            "results": results,
            "threshold": threshold,
            "asked": form.is_bound and form.is_valid(),
        }
        return TemplateResponse(request, "admin/bots/faqentry/try.html", context)


class FaqThreshold:
    # BotFlow.faq_threshold's default: the threshold when no inbox (or no flow) is chosen.
    DEFAULT = BotFlow._meta.get_field("faq_threshold").default


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
