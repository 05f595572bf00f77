"""Pages and JSON endpoints of the supervisor dashboard. Interfaces only: check the user, parse, call one
selector, statistics function or service, answer. A JSON endpoint's refusal (a SupervisorError, or any
DomainError) answers `{"error": {"code", "detail"}}` with the code's status (core.http.api_endpoint)."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.http import api_endpoint, json_body
from supervisor import replica, selectors, services, stats
from supervisor import reports as reports_export
from supervisor.forms import ReportFilterForm, StaffingFilterForm


def supervisor_required(view):
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not selectors.user_may_supervise(request.user):
            raise PermissionDenied(gettext("Only supervisors and admins may open the supervisor pages."))
        return view(request, *args, **kwargs)

    return wrapped


@supervisor_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    config = {
        "ws_path": "/ws/v1/supervisor/live/",
        "snapshot_url": "/supervisor/api/snapshot",
        "api_base": "/supervisor/api/",
        "queues": selectors.queues_visible(user=request.user),
        "agents": selectors.agents_visible(user=request.user),
    }
    return render(
        request, "supervisor/dashboard.html", {"dashboard_config": config, "replica": replica.replica_status()}
    )


@supervisor_required
@api_endpoint
@require_GET
def api_replica(request: HttpRequest) -> JsonResponse:
    """How far behind the reports' replica is: {configured, state: none | ok | down | unknown, lag_s, text}."""
    return JsonResponse(replica.replica_status())


@supervisor_required
@api_endpoint
@require_GET
def api_snapshot(request: HttpRequest) -> JsonResponse:
    return JsonResponse(stats.queue_stats_snapshot(user=request.user))


@supervisor_required
@api_endpoint
@require_GET
def api_conversations(request: HttpRequest) -> JsonResponse:
    queue_id = request.GET.get("queue_id")
    try:
        queue_id = int(queue_id) if queue_id else None
    except ValueError:
        raise DomainError("invalid", gettext("queue_id must be an integer.")) from None
    status = request.GET.get("status") or None
    if status is not None and status not in selectors.OPEN_IN_SCOPE_STATUSES:
        choices = ", ".join(selectors.OPEN_IN_SCOPE_STATUSES)
        raise DomainError("invalid", gettext("status must be one of %(choices)s.") % {"choices": choices})
    return JsonResponse(
        {"conversations": selectors.conversations_open_in_scope(user=request.user, queue_id=queue_id, status=status)}
    )


@supervisor_required
@api_endpoint
@require_GET
def api_conversation(request: HttpRequest, conversation_id: int) -> JsonResponse:
    found = selectors.conversation_read_only(user=request.user, conversation_id=conversation_id)
    if found is None:
        raise DomainError("not_found", gettext("No such conversation in your queues."))
    return JsonResponse(found)


# A conversation's status in words on the transcript (the console says the same).
STATUS_WORDS = {
    "bot": pgettext_lazy("conversation status", "bot"),
    "queued": pgettext_lazy("conversation status", "queued"),
    "offered": pgettext_lazy("conversation status", "offered"),
    "assigned": pgettext_lazy("conversation status", "assigned"),
    "closed": pgettext_lazy("conversation status", "closed"),
}


@supervisor_required
@require_GET
def conversation_page(request: HttpRequest, conversation_id: int) -> HttpResponse:
    transcript = selectors.conversation_transcript(user=request.user, conversation_id=conversation_id)
    if transcript is None:
        raise Http404(gettext("No such conversation in your queues."))
    # The thread is the partial the CRM's transcript page draws too (templates/imsubsystem/_thread.html).
    status = transcript["conversation"]["status"]
    context = {
        "transcript": transcript,
        "status_label": STATUS_WORDS.get(status, status),
        "contact_url": reverse("crm:contact_detail", args=[transcript["conversation"]["contact"]["id"]]),
    }
    return render(request, "supervisor/conversation.html", context)


@supervisor_required
@api_endpoint
@require_POST
def api_transfer(request: HttpRequest, conversation_id: int) -> JsonResponse:
    body = json_body(request)
    services.conversation_reassign(
        by_user=request.user,
        conversation_id=conversation_id,
        queue_id=body.get("queue_id"),
        agent_id=body.get("agent_id"),
    )
    return JsonResponse({"ok": True})


@supervisor_required
@api_endpoint
@require_POST
def api_note(request: HttpRequest, conversation_id: int) -> JsonResponse:
    body = json_body(request)
    message = services.whisper_send(
        by_user=request.user,
        conversation_id=conversation_id,
        text=body.get("text"),
        client_id=body.get("client_id"),
    )
    return JsonResponse({"message": message}, status=201)


@supervisor_required
@api_endpoint
@require_POST
def api_agent_status(request: HttpRequest, agent_id: int) -> JsonResponse:
    body = json_body(request)
    services.agent_status_change(by_user=request.user, agent_id=agent_id, status=body.get("status"))
    return JsonResponse({"ok": True})


# --- reports ----------------------------------------------------------------------------------------------
REPORT_COLUMNS = reports_export.REPORT_COLUMNS


def _report(request: HttpRequest) -> tuple[ReportFilterForm, list[dict[str, Any]] | None]:
    queues = selectors.queues_visible(user=request.user)
    # Always bound: every field is optional, so an empty query gives the default report (the last 7 days).
    form = ReportFilterForm(request.GET, queues=queues)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    rows = reports_export.report_for_user(
        user=request.user,
        start_at=data["start_at"],
        end_at=data["end_at"],
        period=data["period"],
        dimension=data["dimension"],
        queue_ids={data["queue"]} if data.get("queue") else None,
    )
    form.report_data = data
    return form, rows


@supervisor_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    form, rows = _report(request)
    chart = None
    if rows is not None:
        chart = [
            {
                "bucket": r["bucket_label"],
                "name": r["name"],
                "volume": r["volume"],
                "service_level": r["service_level"],
                "abandonment": r["abandonment"],
            }
            for r in rows
        ]
    return render(
        request,
        "supervisor/reports.html",
        {
            "form": form,
            "rows": rows,
            "columns": REPORT_COLUMNS,
            "chart": chart,
            "query": request.GET.urlencode(),
            "replica": replica.replica_status(),
        },
    )


@supervisor_required
@require_GET
def reports_csv(request: HttpRequest) -> HttpResponse:
    form, rows = _report(request)
    if rows is None:
        return HttpResponse(
            "; ".join(m for e in form.errors.values() for m in e), status=400, content_type="text/plain"
        )
    data = form.report_data
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = reports_export.report_csv_filename(
        dimension=data["dimension"], period=data["period"], start=data["start"], end=data["end"]
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    reports_export.report_csv_write(response, rows=rows, dimension=data["dimension"])
    return response


def _staffing_plan(request: HttpRequest) -> tuple[StaffingFilterForm, list[dict[str, Any]] | None]:
    form = StaffingFilterForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    queue_ids = [q["id"] for q in selectors.queues_visible(user=request.user) if q["is_active"]]
    return form, stats.staffing_plan(queue_ids=queue_ids, weeks=data["weeks"], weekday=data["weekday"])


@supervisor_required
@api_endpoint
@require_GET
def api_staffing(request: HttpRequest) -> JsonResponse:
    """The staffing page's figures as JSON: {"weeks", "weekday", "queues": [plan per visible queue]}."""
    form, plan = _staffing_plan(request)
    if plan is None:
        detail = "; ".join(f"{field}: {m}" for field, errors in form.errors.items() for m in errors)
        raise DomainError("invalid", detail)
    data = form.cleaned_data
    weekday = data["weekday"] or timezone.localtime().isoweekday()
    return JsonResponse({"weeks": data["weeks"], "weekday": weekday, "queues": plan})


@supervisor_required
@require_GET
def staffing(request: HttpRequest) -> HttpResponse:
    form, plan = _staffing_plan(request)
    return render(request, "supervisor/staffing.html", {"form": form, "plan": plan})
