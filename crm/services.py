"""Writes to the CRM. Interfaces (views, admin, tasks, other apps) call these, never the ORM directly."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.hooks import ContactMerging, ContactSaved, contact_created, contact_merging, contact_updated
from crm.models import ChannelKind, Contact, ContactIdentity, ContactMerge, Note, Tag


def _merge_lists(first: list, second: list) -> list:
    seen: set = set()
    merged = []
    for value in [*first, *second]:
        key = value.strip().lower() if isinstance(value, str) else value
        if key and key not in seen:
            seen.add(key)
            merged.append(value)
    return merged


def contact_create(
    *,
    name: str = "",
    emails: list[str] | None = None,
    phones: list[str] | None = None,
    language: str = "",
    timezone_name: str = "",
    custom_attributes: dict[str, Any] | None = None,
) -> Contact:
    contact = Contact(
        name=name.strip()[:200],
        emails=_merge_lists(emails or [], []),
        phones=_merge_lists(phones or [], []),
        language=language[:16],
        timezone=timezone_name[:64],
        custom_attributes=custom_attributes or {},
    )
    contact.full_clean()
    with transaction.atomic():
        contact.save()
        contact_created.emit(ContactSaved(contact_id=contact.pk))
    return contact


EDITABLE_FIELDS = ("name", "emails", "phones", "language", "timezone", "company", "custom_attributes")


def contact_update(*, contact: Contact, data: dict[str, Any]) -> Contact:
    """Update the editable fields given in `data`; anything else is refused."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Cannot edit: {', '.join(sorted(unknown))}")
    for field, value in data.items():
        if field in ("emails", "phones"):
            value = _merge_lists(list(value), [])
        setattr(contact, field, value)
    contact.full_clean()
    with transaction.atomic():
        contact.save()
        contact_updated.emit(ContactSaved(contact_id=contact.pk, fields=tuple(sorted(data))))
    return contact


def _editable_values(contact: Contact) -> dict[str, Any]:
    return {field: getattr(contact, f"{field}_id" if field == "company" else field) for field in EDITABLE_FIELDS}


def contact_saved_elsewhere(*, contact: Contact, before: Contact | None) -> None:
    """For a surface that saves a contact through a ModelForm of its own (Django admin): the same hook
    events as contact_create (`before` None) and contact_update (the editable fields that differ from
    `before`, the row as it was), inside the caller's transaction."""
    if before is None:
        contact_created.emit(ContactSaved(contact_id=contact.pk))
        return
    old, new = _editable_values(before), _editable_values(contact)
    changed = tuple(field for field in EDITABLE_FIELDS if old[field] != new[field])
    if changed:
        contact_updated.emit(ContactSaved(contact_id=contact.pk, fields=changed))


def contact_set_tags(*, contact: Contact, names: list[str]) -> list[Tag]:
    tags = [Tag.objects.get_or_create(name=name.strip()[:64])[0] for name in names if name.strip()]
    contact.tags.set(tags)
    return tags


def note_create(*, contact: Contact, author, body: str) -> Note:
    body = body.strip()
    if not body:
        raise ValidationError("A note needs some text.")
    return Note.objects.create(contact=contact, author=author, body=body[:10000])


def identity_get_or_create(
    *, kind: str, external_id: str, display_name: str = "", defaults: dict[str, Any] | None = None
) -> tuple[ContactIdentity, bool]:
    """Find the contact behind a channel address, creating both on first sight.

    Safe under concurrency: two webhooks for the same new sender race on the unique (kind, external_id)
    constraint, and the loser reads the winner's row.
    """
    if kind not in ChannelKind.values:
        raise ValidationError(f"Unknown channel kind {kind!r}")
    external_id = str(external_id)[:191]
    existing = ContactIdentity.objects.select_related("contact").filter(kind=kind, external_id=external_id).first()
    if existing:
        return existing, False
    defaults = defaults or {}
    try:
        with transaction.atomic():
            contact = contact_create(
                name=display_name or defaults.get("name", ""),
                emails=defaults.get("emails"),
                phones=defaults.get("phones"),
                language=defaults.get("language", ""),
            )
            identity = ContactIdentity.objects.create(
                contact=contact,
                kind=kind,
                external_id=external_id,
                display_name=display_name[:200],
                metadata=defaults.get("metadata", {}),
                last_seen_at=timezone.now(),
            )
            return identity, True
    except IntegrityError:
        return ContactIdentity.objects.select_related("contact").get(kind=kind, external_id=external_id), False


def identity_add(*, contact: Contact, kind: str, external_id: str, display_name: str = "") -> ContactIdentity:
    """Give `contact` an address on a channel. An address belongs to one contact: one that another
    contact holds is refused (`identity_taken`, naming that contact: merge the two instead)."""
    if kind not in ChannelKind.values:
        raise ValidationError(f"Unknown channel kind {kind!r}.", code="invalid")
    external_id = str(external_id).strip()
    if not external_id or len(external_id) > 191:
        raise ValidationError("external_id must be 1 to 191 characters.", code="invalid")
    holder = ContactIdentity.objects.filter(kind=kind, external_id=external_id).values_list("contact_id", flat=True)
    if holder:
        raise ValidationError(
            "Contact #%(contact_id)s already has this address.", code="identity_taken", params={"contact_id": holder[0]}
        )
    try:
        with transaction.atomic():
            return ContactIdentity.objects.create(
                contact=contact, kind=kind, external_id=external_id, display_name=display_name.strip()[:200]
            )
    except IntegrityError:
        holder_id = ContactIdentity.objects.filter(kind=kind, external_id=external_id).values_list(
            "contact_id", flat=True
        )
        raise ValidationError(
            "Contact #%(contact_id)s already has this address.",
            code="identity_taken",
            params={"contact_id": holder_id[0] if holder_id else None},
        ) from None


def identity_verify(*, identity: ContactIdentity) -> None:
    """Mark an address as proven by its channel (a site's HMAC of its logged-in customer's id). Only the
    code that checked the proof calls this."""
    if identity.verified_at is None:
        identity.verified_at = timezone.now()
        unverified = ContactIdentity.objects.filter(pk=identity.pk, verified_at__isnull=True)
        unverified.update(verified_at=identity.verified_at)


def identity_remove(*, identity: ContactIdentity) -> None:
    """Take an address off its contact. The contact and its conversations stay; the next message from
    that address makes a new contact (identity_get_or_create)."""
    identity.delete()


def _snapshot(contact: Contact) -> dict[str, Any]:
    return {
        "name": contact.name,
        "emails": contact.emails,
        "phones": contact.phones,
        "language": contact.language,
        "timezone": contact.timezone,
        "company_id": contact.company_id,
        "custom_attributes": contact.custom_attributes,
        "tags": sorted(contact.tags.values_list("name", flat=True)),
        "created_at": contact.created_at.isoformat() if contact.created_at else None,
    }


@transaction.atomic
def contact_merge(*, source: Contact, target: Contact, merged_by=None) -> ContactMerge:
    """Fold `source` into `target` in one transaction: identities, notes, tags, addresses and every
    other app's history move; the target's own values win where both have one; `source` is deleted.
    """
    if source.pk == target.pk:
        raise ValidationError("A contact cannot be merged into itself.")
    # Lock both rows in id order so two merges touching the same pair cannot deadlock.
    locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk")}
    if len(locked) != 2:
        raise ValidationError("One of the contacts no longer exists.")
    source, target = locked[source.pk], locked[target.pk]
    snapshot = _snapshot(source)

    moved: dict[str, int] = {
        "identities": ContactIdentity.objects.filter(contact=source).update(contact=target),
        "notes": Note.objects.filter(contact=source).update(contact=target),
    }
    target.tags.add(*source.tags.all())
    moved["tags"] = len(snapshot["tags"])
    before = _editable_values(target)
    target.emails = _merge_lists(target.emails, source.emails)
    target.phones = _merge_lists(target.phones, source.phones)
    target.name = target.name or source.name
    target.language = target.language or source.language
    target.timezone = target.timezone or source.timezone
    target.company_id = target.company_id or source.company_id
    target.custom_attributes = {**source.custom_attributes, **target.custom_attributes}
    target.save()

    # Every other app moves what it owns; an error propagates and rolls the merge back.
    for answer in contact_merging.emit(ContactMerging(source_id=source.pk, target_id=target.pk)):
        if isinstance(answer, dict):
            moved.update(answer)

    ContactMerge.objects.filter(target=source).update(target=target)
    record = ContactMerge.objects.create(
        target=target, source_id=source.pk, source_snapshot=snapshot, moved=moved, merged_by=merged_by
    )
    Note.objects.create(
        contact=target,
        author=merged_by,
        body=f"Merged contact #{source.pk} ({source.display_name}) into this record.",
    )
    source.delete()
    changed = tuple(
        field
        for field in EDITABLE_FIELDS
        if getattr(target, f"{field}_id" if field == "company" else field) != before[field]
    )
    contact_updated.emit(ContactSaved(contact_id=target.pk, fields=changed))  # its identities moved, if nothing else
    return record
