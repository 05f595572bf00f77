"""`GET /search`: the console's search box for integrators: conversations by their messages' text, with
the same filters and the same one visibility rule, and the contacts the CRM's search finds
(docs/api.md, "Search"; docs/imsubsystem.md, "Search")."""

from __future__ import annotations

from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers_conversations import LabelRefSerializer, SenderSerializer
from api.views.base import ApiMixin
from crm import selectors as crm_selectors
from imsubsystem import selectors
from imsubsystem.models import ConversationStatus

CONTACTS_SHOWN = 5


class _Ref(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SnippetSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="Up to 160 characters of the message around the first word found.")
    marks = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        help_text="[start, end) of each word of the query in `text`, in Unicode code points.",
    )


class FoundMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    sender = SenderSerializer()
    private = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    snippet = SnippetSerializer()


class FoundConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    contact = _Ref()
    inbox = _Ref()
    queue = _Ref(allow_null=True)
    assignee = _Ref(allow_null=True)
    labels = LabelRefSerializer(many=True, help_text="The conversation's labels, by name.")
    mine = serializers.BooleanField(help_text="Assigned to the caller.")
    last_message_at = serializers.DateTimeField(allow_null=True)
    hits = serializers.IntegerField(help_text="Messages of this page in this conversation.")
    message = FoundMessageSerializer(help_text="Its newest message found.")


class FoundContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    emails = serializers.ListField(child=serializers.CharField())
    phones = serializers.ListField(child=serializers.CharField())
    company = serializers.CharField(allow_blank=True)
    url = serializers.CharField(help_text="The contact's CRM page (a path on this server).")


class SearchPageSerializer(serializers.Serializer):
    conversations = FoundConversationSerializer(many=True)
    contacts = FoundContactSerializer(many=True, help_text="With the first page only (no cursor).")
    next_cursor = serializers.IntegerField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null at the end."
    )


def _filter_parameters() -> list[OpenApiParameter]:
    """One parameter per filter of the switch's SEARCH_FILTERS, so a new filter is documented as it comes."""
    kinds = {"choice": OpenApiTypes.STR, "id": OpenApiTypes.INT, "date": OpenApiTypes.DATE}
    hints = {
        "choice": lambda spec: "One of: " + ", ".join(str(o["value"]) for o in spec.options(None)) + ".",
        "id": lambda spec: "An id.",
        "date": lambda spec: "A day (YYYY-MM-DD) in the server's time zone, the whole day included.",
    }
    with translation.override("en"):
        return [
            OpenApiParameter(spec.name, kinds[spec.kind], description=f"{spec.label}: {hints[spec.kind](spec)}")
            for spec in selectors.SEARCH_FILTERS
        ]


class SearchView(ApiMixin, APIView):
    @extend_schema(
        operation_id="search",
        summary="Search conversations and contacts",
        description=(
            "Conversations whose messages (internal notes included) have every word of `q`, newest first, "
            "among the conversations the caller may see; Chinese, Japanese and Korean are found by any word of "
            "2 characters. Each conversation once per page, with its newest message found as a snippet. "
            "A page may hold fewer than `limit` and still have a `next_cursor`: each page reads a bounded part "
            "of the index."
        ),
        tags=["search"],
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description="At most 200 characters, a word of 2+."),
            OpenApiParameter("cursor", OpenApiTypes.INT, description="The previous page's `next_cursor`."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Messages per page, 1 to 200, default 30."),
            *_filter_parameters(),
        ],
        responses={
            200: SearchPageSerializer,
            400: OpenApiResponse(
                description="invalid: a parameter out of range or unknown, or (reason `query_too_short`) no word "
                "of 2 characters"
            ),
        },
    )
    def get(self, request):
        params = selectors.search_request_parse(request.query_params.dict())
        found = selectors.conversations_search(user=request.user, **params)
        found["contacts"] = (
            crm_selectors.contact_search_brief(query=params["query"], user=request.user, limit=CONTACTS_SHOWN)
            if params["cursor"] is None
            else []
        )
        return Response(found)
