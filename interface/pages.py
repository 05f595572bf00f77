"""Staff and demo pages of the interface terminal (the agent console, a conversation's transcript, the
widget demo page)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from imsubsystem import selectors
from imsubsystem.models import ConversationStatus
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


@login_required
@require_GET
def conversation_transcript(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """A conversation's whole transcript, read-only, for whoever may see it: the page the contact record's
    Conversations panel and the console's contact panel link to. The one visibility rule decides; a
    conversation the user may not see is a 404, the same as one that does not exist."""
    if not request.user.has_perm("imsubsystem.view_conversation"):
        raise PermissionDenied("Your role cannot read conversations.")
    transcript = selectors.conversation_transcript(user=request.user, conversation_id=conversation_id)
    if transcript is None:
        raise Http404(gettext("No such conversation, or you may not see it."))
    conversation = transcript["conversation"]
    contact_url = ""
    if request.user.has_perm("crm.view_contact"):
        contact_url = reverse("crm:contact_detail", args=[conversation["contact"]["id"]])
    context = {
        "transcript": transcript,
        "status_label": ConversationStatus(conversation["status"]).label,
        "contact_url": contact_url,
    }
    return render(request, "imsubsystem/conversation_transcript.html", context)
