"""The console's search box: conversations by their messages' text and contacts, with filters
(docs/interface.md, "Search"; the search itself is the switch's, docs/imsubsystem.md, "Search")."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from crm import selectors as crm_selectors
from imsubsystem import selectors
from interface.api_agent.base import console_endpoint

CONTACTS_SHOWN = 5


@console_endpoint
@require_GET
def search(request: HttpRequest) -> JsonResponse:
    """?q=...&status=&inbox=&queue=&agent=&since=&until=&cursor=&limit= → {"conversations", "contacts",
    "next_cursor"}. Contacts come with the first page only (no cursor)."""
    params = selectors.search_request_parse(request.GET.dict())
    found = selectors.conversations_search(user=request.user, **params)
    found["contacts"] = (
        crm_selectors.contact_search_brief(query=params["query"], user=request.user, limit=CONTACTS_SHOWN)
        if params["cursor"] is None
        else []
    )
    return JsonResponse(found)


@console_endpoint
@require_GET
def search_filters(request: HttpRequest) -> JsonResponse:
    """The search's filters and the values to offer: the console builds its controls from them."""
    return JsonResponse({"filters": selectors.search_filters_describe(user=request.user)})
