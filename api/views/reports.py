"""`GET /reports/{kind}`: the supervisor dashboard's historical report, per queue or per agent, as JSON or
as the dashboard's own CSV export (`Accept: text/csv` or `?format=csv`).

The rows come from the one statistics service through supervisor.reports (the same function the reports
page and its CSV call), the filters are checked by the page's own form (supervisor.forms.ReportFilterForm:
the same defaults and limits), and the scope is the dashboard's: supervisors see their teams' queues and
agents, admins everything, agents are refused (403). A queue or team outside the caller's scope is
`not_found`, as if it did not exist.
"""

from __future__ import annotations

import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.permissions import StaffWithScope
from api.rules import SupervisorsOnly
from api.serializers_resources import ReportSerializer
from api.views.base import MAX_ID, ApiMixin, object_id
from core.errors import DomainError
from supervisor import reports as supervisor_reports
from supervisor import selectors as supervisor_selectors
from supervisor.forms import ReportFilterForm

KINDS = ("queue", "agent", "label", "close_reason")
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class CsvRenderer(renderers.BaseRenderer):
    """The report's CSV: the view hands it the text already written (supervisor.reports.report_csv_write)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode(self.charset) if isinstance(data, str) else b""


def _int_param(request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    value = object_id(raw)
    if value is None:
        raise DomainError("invalid", f"{name} must be a positive integer id.", errors={name: ["Not an id."]})
    return value


class ReportView(ApiMixin, APIView):
    permission_classes = [StaffWithScope, SupervisorsOnly]
    renderer_classes = [renderers.JSONRenderer, CsvRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # A refusal is JSON in the one error shape, whatever format was asked for.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        summary="A report of the dashboard's figures",
        tags=["reports"],
        parameters=[
            OpenApiParameter(
                "kind",
                str,
                OpenApiParameter.PATH,
                enum=list(KINDS),
                description="Rows per queue, agent, label or close reason.",
            ),
            OpenApiParameter("from", OpenApiTypes.DATE, description="The first day (default: six days before `to`)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="The last day, inclusive (default: today)."),
            OpenApiParameter("period", str, enum=["day", "hour"], description="Rows per day (default) or hour."),
            OpenApiParameter("queue", _ID_SCHEMA, description="Only this queue (one of yours)."),
            OpenApiParameter("team", _ID_SCHEMA, description="Only this team's queues (one of yours)."),
            OpenApiParameter("format", str, enum=["json", "csv"], description="`csv`: the dashboard's CSV export."),
        ],
        responses={
            (200, "application/json"): ReportSerializer,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The dashboard's CSV export."),
        },
        description="The same figures as the supervisor dashboard's reports; per day at most 366 days, per hour "
        "at most 31. Days are in the server's time zone.",
    )
    def get(self, request, kind: str):
        if kind not in KINDS:
            raise DomainError("not_found", f"No report {kind!r}: ask for one of {', '.join(KINDS)}.")
        user = request.user
        queue_ids = set(supervisor_selectors.queue_ids_visible(user=user))
        queue_id, team_id = _int_param(request, "queue"), _int_param(request, "team")
        if queue_id is not None:
            if queue_id not in queue_ids:
                raise DomainError("not_found", "No such queue in your teams.")
            queue_ids &= {queue_id}
        if team_id is not None:
            team = supervisor_selectors.teams_visible(user=user).filter(pk=team_id).first()
            if team is None:
                raise DomainError("not_found", "No such team, or it is not yours.")
            queue_ids &= set(team.queues.values_list("pk", flat=True))
        form = ReportFilterForm(
            {
                "start": request.query_params.get("from", ""),
                "end": request.query_params.get("to", ""),
                "period": request.query_params.get("period", ""),
                "dimension": kind,
            },
            queues=[],
        )
        if not form.is_valid():
            errors = {
                {"start": "from", "end": "to", "__all__": "non_field_errors"}.get(field, field): list(messages)
                for field, messages in form.errors.items()
            }
            raise DomainError("invalid", "; ".join(m for ms in errors.values() for m in ms), errors=errors)
        data = form.cleaned_data
        rows = supervisor_reports.report_for_user(
            user=user,
            start_at=data["start_at"],
            end_at=data["end_at"],
            period=data["period"],
            dimension=kind,
            queue_ids=queue_ids,
        )
        if isinstance(request.accepted_renderer, CsvRenderer):
            out = io.StringIO()
            supervisor_reports.report_csv_write(out, rows=rows, dimension=kind)
            filename = supervisor_reports.report_csv_filename(
                dimension=kind, period=data["period"], start=data["start"], end=data["end"]
            )
            return Response(out.getvalue(), headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        body = {
            "kind": kind,
            "period": data["period"],
            "start": data["start"],
            "end": data["end"],
            "rows": [
                {
                    "period_start": row["bucket"],
                    "id": row[kind + "_id"],
                    "name": row["name"],
                    **{key: row[key] for key, _ in supervisor_reports.REPORT_COLUMNS},
                }
                for row in rows
            ],
        }
        return Response(ReportSerializer(body).data)
