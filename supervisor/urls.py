from django.urls import path

from supervisor import views

app_name = "supervisor"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("reports/", views.reports, name="reports"),
    path("reports.csv", views.reports_csv, name="reports_csv"),
    path("staffing/", views.staffing, name="staffing"),
    path("conversations/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("api/snapshot", views.api_snapshot, name="api_snapshot"),
    path("api/staffing", views.api_staffing, name="api_staffing"),
    path("api/replica", views.api_replica, name="api_replica"),
    path("api/conversations", views.api_conversations, name="api_conversations"),
    path("api/conversations/<int:conversation_id>", views.api_conversation, name="api_conversation"),
    path("api/conversations/<int:conversation_id>/transfer", views.api_transfer, name="api_transfer"),
    path("api/conversations/<int:conversation_id>/notes", views.api_note, name="api_note"),
    path("api/agents/<int:agent_id>/status", views.api_agent_status, name="api_agent_status"),
]
