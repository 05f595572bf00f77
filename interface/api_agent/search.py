"""The console's search box: conversations by their messages' text and contacts, with filters
(docs/interface.md, "Search"; the search itself is the switch's, docs/imsubsystem.md, "Search")."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from core.errors import DomainError
from crm import selectors as crm_selectors
from imsubsystem import selectors
from imsubsystem.ratelimit import rate_limit_hit
from interface.api_agent.base import console_endpoint

CONTACTS_SHOWN = 5
# One budget per user for the console's searches (conversations and contacts alike): the contact search
# scans the contact records, so a loop in a page or a script must not hold the database for others.
SEARCHES_PER_MINUTE = 120


def _search_budget_take(request: HttpRequest) -> None:
    if not rate_limit_hit(key=f"console-search:{request.user.pk}", limit=SEARCHES_PER_MINUTE, window_s=60):
        raise DomainError("rate_limited", "Too many searches; wait a minute.", retry_after_s=60)


@console_endpoint
@require_GET
def search(request: HttpRequest) -> JsonResponse:
    """?q=...&status=&inbox=&queue=&agent=&label=&since=&until=&cursor=&limit= → {"conversations", "next_cursor"}
    (the switch's `conversations_search`). The console asks for contacts beside it (`search_contacts`),
    so conversations show without waiting for the contact search's scan of the contact records."""
    _search_budget_take(request)
    params = selectors.search_request_parse(request.GET.dict())
    return JsonResponse(selectors.conversations_search(user=request.user, **params))


@console_endpoint
@require_GET
def search_contacts(request: HttpRequest) -> JsonResponse:
    """?q=... → {"contacts"}: the first contacts the CRM's contact search finds (their own fields, and the
    text of the conversations this user may see through the same message search)."""
    _search_budget_take(request)
    query = request.GET.get("q", "")
    if len(query) > selectors.QUERY_MAX_CHARS:
        raise DomainError("invalid", f"The search text must be at most {selectors.QUERY_MAX_CHARS} characters.")
    contacts = crm_selectors.contact_search_brief(query=query, user=request.user, limit=CONTACTS_SHOWN)
    return JsonResponse({"contacts": contacts if query.strip() else []})


@console_endpoint
@require_GET
def search_filters(request: HttpRequest) -> JsonResponse:
    """The search's filters and the values to offer: the console builds its controls from them."""
    return JsonResponse({"filters": selectors.search_filters_describe(user=request.user)})
