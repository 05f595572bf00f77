"""Staff and demo pages of the interface terminal (the agent console, the widget demo page)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from imsubsystem import selectors
from interface.api_agent.base import agent_presence, user_may_use_console


@login_required
def agent_console(request: HttpRequest) -> HttpResponse:
    if not user_may_use_console(request.user):
        raise PermissionDenied("Your role cannot use the agent console.")
    config = {
        "user": {"id": request.user.pk, "name": selectors.user_display_name(request.user)},
        "api_base": "/api/v1/agent/",
        "ws_path": "/ws/v1/agent/",
        "presence": agent_presence(user=request.user),
        "pick_frame": "conversation.pick",
    }
    return render(request, "imsubsystem/agent_console.html", {"console_config": config})


def widget_demo(request: HttpRequest, inbox_key: str) -> HttpResponse:
    # A pretend shop page: it only embeds the widget; the widget's own API checks the inbox key.
    return render(request, "imsubsystem/widget_demo.html", {"inbox_key": inbox_key[:64]})
