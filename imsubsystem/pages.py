"""Staff and demo pages of the interface terminal (the agent console, the widget demo page)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def agent_console(request: HttpRequest) -> HttpResponse:
    return render(request, "imsubsystem/agent_console.html")


@login_required
def supervisor_dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "imsubsystem/supervisor_dashboard.html")


def widget_demo(request: HttpRequest, inbox_key: str) -> HttpResponse:
    return render(request, "imsubsystem/widget_demo.html", {"inbox_key": inbox_key})
