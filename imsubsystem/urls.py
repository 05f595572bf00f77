from django.urls import path

from imsubsystem import pages

app_name = "imsubsystem"
urlpatterns = [
    path("agent/", pages.agent_console, name="agent_console"),
    path("supervisor/", pages.supervisor_dashboard, name="supervisor_dashboard"),
    path("widget/demo/<str:inbox_key>/", pages.widget_demo, name="widget_demo"),
]
