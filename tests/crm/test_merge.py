import pytest
from django.core.exceptions import ValidationError

from crm import services
from crm.hooks import contact_merging
from crm.models import Contact, ContactIdentity, ContactMerge, Note
from tests.factories import ContactFactory, ContactIdentityFactory, NoteFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_merge_moves_identities_notes_tags_and_addresses():
    vip, returning = TagFactory(name="vip"), TagFactory(name="returning")
    target = ContactFactory(name="Grace", emails=["grace@a.example"], phones=[], language="", tags=[vip])
    source = ContactFactory(
        name="G. Hopper",
        emails=["GRACE@a.example", "g@b.example"],
        phones=["+1555"],
        language="en",
        custom_attributes={"plan": "gold", "city": "Arlington"},
        tags=[returning],
    )
    target.custom_attributes = {"plan": "silver"}
    target.save()
    ids = [ContactIdentityFactory(contact=source, external_id=f"tg-{n}").pk for n in range(2)]
    ContactIdentityFactory(contact=target, kind="whatsapp", external_id="+1555")
    note_ids = [NoteFactory(contact=source).pk for _ in range(3)]

    record = services.contact_merge(source=source, target=target)

    assert not Contact.objects.filter(pk=source.pk).exists()
    target.refresh_from_db()
    assert set(ContactIdentity.objects.filter(pk__in=ids).values_list("contact_id", flat=True)) == {target.pk}
    assert target.identities.count() == 3
    assert set(Note.objects.filter(pk__in=note_ids).values_list("contact_id", flat=True)) == {target.pk}
    assert {t.name for t in target.tags.all()} == {"vip", "returning"}
    # Addresses are unioned without case duplicates; the target's own values win.
    assert target.emails == ["grace@a.example", "g@b.example"]
    assert target.phones == ["+1555"]
    assert target.name == "Grace"
    assert target.language == "en"
    assert target.custom_attributes == {"plan": "silver", "city": "Arlington"}
    assert record.source_id == source.pk and record.moved["identities"] == 2 and record.moved["notes"] == 3
    assert record.source_snapshot["name"] == "G. Hopper"
    # The merge leaves a trace in the record people read.
    assert target.notes.filter(body__contains=f"#{source.pk}").exists()


def test_merge_keeps_identity_uniqueness():
    target, source = ContactFactory(), ContactFactory()
    ContactIdentityFactory(contact=source, kind="telegram", external_id="42")
    services.contact_merge(source=source, target=target)
    with pytest.raises(Exception):  # noqa: B017 - the database refuses a second (kind, external_id)
        ContactIdentity.objects.create(contact=ContactFactory(), kind="telegram", external_id="42")


def test_merge_into_itself_is_refused_and_changes_nothing():
    contact = ContactFactory()
    NoteFactory(contact=contact)
    with pytest.raises(ValidationError):
        services.contact_merge(source=contact, target=contact)
    assert Contact.objects.filter(pk=contact.pk).exists()
    assert ContactMerge.objects.count() == 0


def test_merge_is_one_transaction(monkeypatch):
    """A receiver that fails undoes the whole merge: nothing half-moved."""
    target, source = ContactFactory(), ContactFactory()
    identity = ContactIdentityFactory(contact=source)

    def broken_receiver(event):
        raise RuntimeError("history store down")

    with contact_merging.subscribed(broken_receiver), pytest.raises(RuntimeError):
        services.contact_merge(source=source, target=target)
    identity.refresh_from_db()
    assert identity.contact_id == source.pk
    assert Contact.objects.filter(pk=source.pk).exists()
    assert ContactMerge.objects.count() == 0


def test_merge_chain_keeps_audit_records():
    a, b, c = ContactFactory(), ContactFactory(), ContactFactory()
    services.contact_merge(source=a, target=b)
    services.contact_merge(source=b, target=c)
    assert ContactMerge.objects.filter(target=c).count() == 2


def test_identity_get_or_create_is_idempotent():
    first, created = services.identity_get_or_create(kind="telegram", external_id="777", display_name="Tg User")
    again, created_again = services.identity_get_or_create(kind="telegram", external_id="777")
    assert created and not created_again
    assert first.pk == again.pk and first.contact.name == "Tg User"
    with pytest.raises(ValidationError):
        services.identity_get_or_create(kind="carrier-pigeon", external_id="1")


def test_admin_merge_action(admin_client_role):
    older, newer = ContactFactory(name="Older"), ContactFactory(name="Newer")
    ContactIdentityFactory(contact=newer)
    response = admin_client_role.post(
        "/admin/crm/contact/",
        {"action": "merge_into_oldest", "_selected_action": [older.pk, newer.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert not Contact.objects.filter(pk=newer.pk).exists()
    assert older.identities.count() == 1
