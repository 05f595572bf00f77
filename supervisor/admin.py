"""Admin for supervision: teams (who supervises which queues) and each queue's alert thresholds."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.roles import STAFF_ROLES
from supervisor.models import QueueAlertThresholds, Team


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "supervisors", "queues"]
        help_texts = {
            "supervisors": _("Supervisors and admins who watch these queues on the dashboard and reports."),
            "queues": _("The queues this team's supervisors see (a supervisor of no team sees none)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only staff who can open the supervisor pages: a team of agents would watch nothing.
        staff = Q(groups__name__in=STAFF_ROLES) | Q(is_superuser=True)
        self.fields["supervisors"].queryset = get_user_model().objects.filter(staff, is_active=True).distinct()


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamForm
    list_display = ("name", "supervisor_names", "queue_names")
    search_fields = ("name",)
    filter_horizontal = ("supervisors", "queues")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("supervisors", "queues")

    @admin.display(description=_("supervisors"))
    def supervisor_names(self, team: Team) -> str:
        return ", ".join(user.get_username() for user in team.supervisors.all())

    @admin.display(description=_("queues"))
    def queue_names(self, team: Team) -> str:
        return ", ".join(queue.name for queue in team.queues.all())


@admin.register(QueueAlertThresholds)
class QueueAlertThresholdsAdmin(admin.ModelAdmin):
    list_display = (
        "queue",
        "longest_wait_warning_s",
        "longest_wait_critical_s",
        "service_level_warning_pct",
        "service_level_critical_pct",
        "service_level_target_pct",
        "concurrency",
    )
    list_select_related = ("queue",)
    fieldsets = [
        (None, {"fields": ["queue"]}),
        (
            _("Longest wait (seconds; empty: no alert)"),
            {"fields": ["longest_wait_warning_s", "longest_wait_critical_s"]},
        ),
        (
            _("Service level (%; empty: no alert)"),
            {"fields": ["service_level_warning_pct", "service_level_critical_pct", "service_level_target_pct"]},
        ),
        (_("Staffing"), {"fields": ["concurrency"]}),
    ]
