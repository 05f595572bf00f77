from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from routing import services
from routing.models import AgentProfile, AgentSkill, AssignmentEvent, Offer, Queue, Skill, WorkItem


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("name", "description")
    search_fields = ("name",)


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
    list_display = ("name", "policy", "offer_timeout_s", "max_wait_s", "overflow_queue", "is_active")
    list_filter = ("policy", "is_active")
    filter_horizontal = ("skills_required",)
    actions = [rebuild_routing]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.queue_sync(queue=form.instance)


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 1


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
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
