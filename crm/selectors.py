"""Reads for the CRM pages and for other apps."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm.hooks import ContactMessagesWanted, contact_message_search
from crm.models import Company, Contact, ContactIdentity, Note


def contact_search_q(query: str, *, user=None) -> Q:
    """What the contact search matches (the CRM pages and the integrator API; docs/crm.md, "Search"): the
    name, an e-mail address, a phone number, the company, a channel id or name, a note, or the contact's
    id, as substrings (Chinese included, from one character); and, for a `user`, the text of the messages
    in the conversations that user may see, by words of 2+ characters (the switch's message search,
    through crm.hooks.contact_message_search). Filter with .distinct(): the joins may repeat a contact."""
    query = query.strip()
    # The related rows as subqueries, not joins: no row per identity and note to make distinct again, so
    # a page of contacts in `updated_at` order stops at its last one (docs/crm.md, "Search").
    condition = (
        Q(name__icontains=query)
        | Q(emails__icontains=query)
        | Q(phones__icontains=query)
        | Q(company_id__in=Company.objects.filter(name__icontains=query).values("pk"))
        | Q(
            pk__in=ContactIdentity.objects.filter(
                Q(external_id__icontains=query) | Q(display_name__icontains=query)
            ).values("contact_id")
        )
        | Q(pk__in=Note.objects.filter(body__icontains=query).values("contact_id"))
    )
    if query.isdigit():
        condition |= Q(pk=int(query))
    if user is not None and user.is_authenticated:
        by_messages = contact_message_search.ask(ContactMessagesWanted(query=query, user_id=user.pk), [])
        if by_messages:
            condition |= Q(pk__in=by_messages)
    return condition


def contact_search(*, query: str = "", tag: str = "", user=None) -> QuerySet[Contact]:
    contacts = Contact.objects.select_related("company").prefetch_related("tags")
    query = query.strip()
    if query:
        contacts = contacts.filter(contact_search_q(query, user=user)).distinct()
    if tag:
        contacts = contacts.filter(tags__name=tag)
    # Meta.ordering is dropped from GROUP BY queries, so the order is named here.
    return contacts.annotate(identity_count=Count("identities", distinct=True)).order_by("-updated_at", "-id")


def contact_search_brief(*, query: str, user, limit: int = 5) -> list[dict]:
    """The first `limit` contacts `contact_search` finds, as the console's and the API's search show them
    beside conversations (`{"id", "display_name", "emails", "phones", "company", "url"}`); none for a user
    who may not read contacts."""
    if not user.has_perm("crm.view_contact"):
        return []
    return [
        {
            "id": contact.pk,
            "display_name": contact.display_name,
            "emails": contact.emails[:1],
            "phones": contact.phones[:1],
            "company": contact.company.name if contact.company_id else "",
            "url": contact.get_absolute_url(),
        }
        for contact in Contact.objects.select_related("company")
        .filter(contact_search_q(query, user=user))
        .order_by("-updated_at", "-id")[:limit]
    ]


def contact_detail(*, contact_id: int) -> Contact:
    return (
        Contact.objects.select_related("company")
        .prefetch_related("tags", "identities", "notes__author", "merges_received")
        .get(pk=contact_id)
    )
