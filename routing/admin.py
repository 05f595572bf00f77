"""Admin for routing: skills, queues (their policy, timers and overflow checked as a whole), agents (their
capacity per channel kind as typed numbers) and the read-only records of the queuing machine."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from routing import services
from routing.backends import channel_kinds
from routing.models import AgentProfile, AgentSkill, AssignmentEvent, Offer, Queue, Skill, WorkItem

# Sane bounds for what an admin types (seconds, conversations at once, skill levels).
OFFER_TIMEOUT_S = (5, 600)
MAX_CAPACITY = 50
SKILL_LEVELS = (1, 10)


class SkillForm(forms.ModelForm):
    class Meta:
        model = Skill
        fields = ["name", "description"]
        help_texts = {"name": _("What flows, queues and agents name it, e.g. billing or chinese.")}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if "," in name:
            raise ValidationError(gettext("A skill name has no comma (lists of skills are comma-separated)."))
        return name


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    form = SkillForm
    list_display = ("name", "description", "queue_count", "agent_count")
    search_fields = ("name",)

    @admin.display(description=_("queues"))
    def queue_count(self, skill: Skill) -> int:
        return skill.queues.count()

    @admin.display(description=_("agents"))
    def agent_count(self, skill: Skill) -> int:
        return skill.agent_levels.count()


class QueueForm(forms.ModelForm):
    class Meta:
        model = Queue
        fields = [
            "name",
            "policy",
            "skills_required",
            "is_active",
            "offer_timeout_s",
            "sticky_window_s",
            "service_level_threshold_s",
            "max_wait_s",
            "overflow_queue",
        ]
        help_texts = {
            "offer_timeout_s": _("Seconds an agent has to accept an offer before it goes to another (5-600)."),
            "overflow_queue": _("Where a conversation goes after the maximum wait (never this queue itself)."),
            "skills_required": _("Agents of this queue need every one of these skills to be offered its work."),
        }

    def clean_offer_timeout_s(self) -> int:
        value = self.cleaned_data["offer_timeout_s"]
        low, high = OFFER_TIMEOUT_S
        if not low <= value <= high:
            raise ValidationError(gettext("Use %(low)s to %(high)s seconds.") % {"low": low, "high": high})
        return value

    def clean_service_level_threshold_s(self) -> int:
        value = self.cleaned_data["service_level_threshold_s"]
        if value < 1:
            raise ValidationError(gettext("Use at least one second."))
        return value

    def clean(self):
        data = super().clean()
        overflow, max_wait = data.get("overflow_queue"), data.get("max_wait_s")
        if overflow and not max_wait:
            self.add_error("max_wait_s", gettext("Give the wait after which conversations overflow."))
        if max_wait and not overflow:
            self.add_error("overflow_queue", gettext("Choose the queue conversations overflow to."))
        if overflow and self.instance.pk:
            seen, current = {self.instance.pk}, overflow
            while current is not None:
                if current.pk in seen:
                    self.add_error(
                        "overflow_queue",
                        gettext("Overflowing to %(queue)s would come back to this queue.") % {"queue": overflow},
                    )
                    break
                seen.add(current.pk)
                current = current.overflow_queue
        return data


@admin.action(description=_("Rebuild routing state from the database"), permissions=["change"])
def rebuild_routing(modeladmin, request, queryset):
    counts = services.routing_rebuild()
    modeladmin.message_user(
        request,
        gettext("Routing rebuilt: %(queues)s queues, %(agents)s agents, %(items)s items.") % counts,
        messages.SUCCESS,
    )


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    form = QueueForm
    list_display = ("name", "policy", "offer_timeout_s", "max_wait_s", "overflow_queue", "is_active")
    list_filter = ("policy", "is_active")
    search_fields = ("name",)
    filter_horizontal = ("skills_required",)
    actions = [rebuild_routing]
    fieldsets = [
        (None, {"fields": ["name", "policy", "skills_required", "is_active"]}),
        (_("Offers"), {"fields": ["offer_timeout_s", "sticky_window_s", "service_level_threshold_s"]}),
        (_("Overflow"), {"fields": ["max_wait_s", "overflow_queue"]}),
        # Chosen on the schedule's page (bots own business hours; routing keeps the id only).
        (_("Business hours"), {"fields": ["business_hours_id"]}),
    ]
    readonly_fields = ("business_hours_id",)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.queue_sync(queue=form.instance)


class AgentSkillForm(forms.ModelForm):
    class Meta:
        model = AgentSkill
        fields = ["skill", "level"]
        help_texts = {"level": _("1 (basic) to 10 (expert).")}

    def clean_level(self) -> int:
        level = self.cleaned_data["level"]
        low, high = SKILL_LEVELS
        if not low <= level <= high:
            raise ValidationError(gettext("Use a level from %(low)s to %(high)s.") % {"low": low, "high": high})
        return level


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    form = AgentSkillForm
    extra = 1


class CapacityWidget(forms.MultiWidget):
    """One number box per channel kind; an empty box uses the default capacity."""

    def __init__(self, kinds, attrs=None):
        self.kinds = kinds
        widgets = {kind: forms.NumberInput(attrs={"min": 0, "max": MAX_CAPACITY}) for kind in kinds}
        super().__init__(widgets, attrs)

    def decompress(self, value):
        value = value or {}
        return [value.get(kind) for kind in self.kinds]

    def render(self, name, value, attrs=None, renderer=None):
        from crm.models import ChannelKind

        labels = dict(ChannelKind.choices)
        subwidgets = self.get_context(name, value, attrs)["widget"]["subwidgets"]
        boxes = (
            format_html(
                '<label class="capacity-kind">{} {}</label> ',
                labels.get(kind, kind),
                forms.NumberInput(attrs=sub["attrs"]).render(sub["name"], sub["value"]),
            )
            for kind, sub in zip(self.kinds, subwidgets, strict=False)
        )
        return format_html_join("", "{}", ((box,) for box in boxes))


class CapacityField(forms.MultiValueField):
    def __init__(self, **kwargs):
        self.kinds = list(channel_kinds())
        fields = [forms.IntegerField(min_value=0, max_value=MAX_CAPACITY, required=False) for _kind in self.kinds]
        super().__init__(fields, widget=CapacityWidget(self.kinds), require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list):
        return {kind: value for kind, value in zip(self.kinds, data_list or [], strict=False) if value is not None}


class AgentProfileForm(forms.ModelForm):
    capacity = CapacityField(
        label=_("Capacity per channel"),
        help_text=_(
            "Conversations at once on each kind of channel (0: none on that channel). Empty: the default capacity."
        ),
    )

    class Meta:
        model = AgentProfile
        fields = ["user", "queues", "status", "default_capacity", "capacity", "auto_away_after_missed"]
        help_texts = {"default_capacity": _("Conversations at once on channels without their own number (1-50).")}

    def clean_default_capacity(self) -> int:
        value = self.cleaned_data["default_capacity"]
        if not 1 <= value <= MAX_CAPACITY:
            raise ValidationError(gettext("Use 1 to %(high)s conversations.") % {"high": MAX_CAPACITY})
        return value


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = ("user", "status", "default_capacity", "auto_away_after_missed")
    list_filter = ("status", "queues")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    filter_horizontal = ("queues",)
    inlines = [AgentSkillInline]
    actions = [rebuild_routing]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.agent_sync(profile=form.instance)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by the queuing machine."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AssignmentEvent)
class AssignmentEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "kind", "ref", "queue_id", "agent_id", "policy", "detail")
    list_filter = ("kind", "policy")
    search_fields = ("=ref", "=agent_id", "offer_id")


@admin.register(WorkItem)
class WorkItemAdmin(ReadOnlyAdmin):
    list_display = ("ref", "queue", "status", "priority", "channel_kind", "agent_id", "enqueued_at")
    list_filter = ("status", "queue", "channel_kind")
    search_fields = ("=ref",)


@admin.register(Offer)
class OfferAdmin(ReadOnlyAdmin):
    list_display = ("id", "ref", "agent_id", "status", "created_at", "expires_at")
    list_filter = ("status",)
    search_fields = ("=ref", "id")
