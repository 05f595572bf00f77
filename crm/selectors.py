"""Reads for the CRM pages and for other apps."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm.models import Contact


def contact_search_q(query: str) -> Q:
    """What the contact search matches (the CRM pages and the integrator API): the name, an e-mail address,
    a phone number, the company, a channel id or name, or the contact's id. Filter with .distinct(): the
    identities join may repeat a contact."""
    query = query.strip()
    condition = (
        Q(name__icontains=query)
        | Q(emails__icontains=query)
        | Q(phones__icontains=query)
        | Q(company__name__icontains=query)
        | Q(identities__external_id__icontains=query)
        | Q(identities__display_name__icontains=query)
    )
    if query.isdigit():
        condition |= Q(pk=int(query))
    return condition


def contact_search(*, query: str = "", tag: str = "") -> QuerySet[Contact]:
    contacts = Contact.objects.select_related("company").prefetch_related("tags")
    query = query.strip()
    if query:
        contacts = contacts.filter(contact_search_q(query)).distinct()
    if tag:
        contacts = contacts.filter(tags__name=tag)
    # Meta.ordering is dropped from GROUP BY queries, so the order is named here.
    return contacts.annotate(identity_count=Count("identities", distinct=True)).order_by("-updated_at", "-id")


def contact_detail(*, contact_id: int) -> Contact:
    return (
        Contact.objects.select_related("company")
        .prefetch_related("tags", "identities", "notes__author", "merges_received")
        .get(pk=contact_id)
    )
