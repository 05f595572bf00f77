from django.urls import include, path

from interface import api_agent, api_widget, pages

app_name = "interface"
urlpatterns = [
    path("agent/", pages.agent_console, name="agent_console"),
    path("conversations/<int:conversation_id>/", pages.conversation_transcript, name="conversation_transcript"),
    path("widget/demo/<str:inbox_key>/", pages.widget_demo, name="widget_demo"),
    # Customer widget API (docs/protocol.md)
    path("api/v1/widget/<slug:inbox_key>/sessions", api_widget.session_create, name="widget_session_create"),
    path("api/v1/widget/messages", api_widget.messages, name="widget_messages"),
    path("api/v1/widget/context", api_widget.context, name="widget_context"),
    path("api/v1/widget/uploads", api_widget.uploads, name="widget_uploads"),
    path("api/v1/widget/attachments/links", api_widget.attachment_links, name="widget_attachment_links"),
    # Agent console API (docs/interface.md)
    path("api/v1/agent/", include((api_agent.urlpatterns, "agent_api"))),
]
