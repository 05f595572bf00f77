from django.contrib import admin

from supervisor.models import QueueAlertThresholds, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    filter_horizontal = ("supervisors", "queues")


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
