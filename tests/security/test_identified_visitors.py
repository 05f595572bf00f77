"""Identified visitors: a site whose customers are logged in sends their id with HMAC-SHA256(inbox identity
secret, id) in hex. Only a right hash links the widget session to that customer's contact; a wrong one is
refused and changes nothing; an inbox may require it; nobody can take over another contact's history by
replaying, forging or reusing a hash elsewhere."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from crm.models import ChannelKind, Contact, ContactIdentity
from imsubsystem import auth, services
from imsubsystem.models import WidgetSession
from tests.factories import ContactFactory, InboxFactory

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = "https://shop.example"


@pytest.fixture
def inbox(db):
    return InboxFactory(key="shop", kind="web", config={"allowed_origins": [ORIGIN]})


def sign(secret: str, identifier: str) -> str:
    """What the site's server computes (docs/interface.md gives the same in Python, Node and PHP)."""
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def _session(client, inbox_key="shop", **body):
    return client.post(
        f"/api/v1/widget/{inbox_key}/sessions", json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )


def _nothing_made() -> tuple[int, int, int]:
    return WidgetSession.objects.count(), Contact.objects.count(), ContactIdentity.objects.count()


def test_each_inbox_gets_its_own_secret(inbox):
    other = InboxFactory(key="other", kind="web")
    assert len(inbox.identity_secret) == 64 and inbox.identity_secret != other.identity_secret
    inbox.refresh_from_db()
    assert len(inbox.identity_secret) == 64  # decrypted back from the database
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT identity_secret FROM imsubsystem_inbox WHERE id = %s", [inbox.pk])
        assert inbox.identity_secret not in cursor.fetchone()[0]  # encrypted at rest


def test_a_right_hash_links_the_session_to_the_customers_contact_and_marks_it_verified(client, inbox):
    first = _session(
        client,
        identifier="cust-42",
        identifier_hash=sign(inbox.identity_secret, "cust-42"),
        name="Vera Lynn",
        email="vera@example.org",
    )
    assert first.status_code == 201, first.content
    assert first.json()["verified"] is True
    identity = ContactIdentity.objects.get(kind=ChannelKind.WEB, external_id=f"user:{inbox.pk}:cust-42")
    assert identity.verified_at is not None and identity.contact.name == "Vera Lynn"
    assert identity.contact.emails == ["vera@example.org"] and identity.contact.verified
    assert first.json()["contact_id"] == identity.contact_id

    # The same customer on another device (the hash in upper case too) is the same contact, with its history.
    services.customer_message_send(inbox_id=inbox.pk, contact_id=identity.contact_id, text="My order", client_id="c1")
    again = _session(
        client, identifier="cust-42", identifier_hash=sign(inbox.identity_secret, "cust-42").upper(), name="Someone"
    )
    assert again.status_code == 201 and again.json()["contact_id"] == identity.contact_id
    token = again.json()["session_token"]
    history = client.get("/api/v1/widget/messages", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=ORIGIN)
    assert [m["text"] for m in history.json()["messages"]] == ["My order"]
    identity.contact.refresh_from_db()
    assert identity.contact.name == "Vera Lynn"  # what a page sends never rewrites a known contact
    assert ContactIdentity.objects.filter(external_id__startswith="user:").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"identifier": "cust-42", "identifier_hash": "0" * 64},  # forged
        {"identifier": "cust-42", "identifier_hash": "not hex at all"},
        {"identifier": "cust-42", "identifier_hash": "é" * 64},  # not ASCII: no crash, a refusal
        {"identifier": "cust-42", "identifier_hash": sign("a guessed secret", "cust-42")},
        {"identifier_hash": "ab" * 32},  # a hash without an id
    ],
)
def test_a_wrong_hash_is_refused_and_makes_nothing(client, inbox, body):
    before = _nothing_made()
    refused = _session(client, **body)
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "identity_invalid"
    assert refused["Access-Control-Allow-Origin"] == ORIGIN  # the widget can read why
    assert _nothing_made() == before


def test_a_replayed_hash_does_not_open_another_customers_contact(client, inbox):
    victim = _session(client, identifier="alice", identifier_hash=sign(inbox.identity_secret, "alice"))
    assert victim.status_code == 201
    before = _nothing_made()
    # Mallory, logged in as herself, reuses her own valid hash with Alice's id, or Alice's hash with her id.
    mallory_hash = sign(inbox.identity_secret, "mallory")
    for body in (
        {"identifier": "alice", "identifier_hash": mallory_hash},
        {"identifier": "mallory", "identifier_hash": sign(inbox.identity_secret, "alice")},
        {"identifier": "alice ", "identifier_hash": sign(inbox.identity_secret, "alice ")},  # spaces around
    ):
        refused = _session(client, **body)
        assert refused.status_code in (400, 403)
    assert _nothing_made() == before


def test_a_hash_made_for_one_inbox_does_not_work_on_another(client, inbox):
    other = InboxFactory(key="other", kind="web", config={"allowed_origins": [ORIGIN]})
    _session(client, identifier="alice", identifier_hash=sign(inbox.identity_secret, "alice"))
    before = _nothing_made()
    refused = _session(
        client, inbox_key="other", identifier="alice", identifier_hash=sign(inbox.identity_secret, "alice")
    )
    assert refused.status_code == 403 and _nothing_made() == before
    # With the other inbox's own secret it is that inbox's customer "alice": another contact.
    own = _session(client, inbox_key="other", identifier="alice", identifier_hash=sign(other.identity_secret, "alice"))
    assert own.status_code == 201
    assert own.json()["contact_id"] != ContactIdentity.objects.get(external_id=f"user:{inbox.pk}:alice").contact_id


def test_an_id_without_a_hash_stays_anonymous_unless_the_inbox_requires_verification(client, inbox):
    known = ContactFactory(name="Alice")
    ContactIdentity.objects.create(contact=known, kind=ChannelKind.WEB, external_id=f"user:{inbox.pk}:alice")
    anonymous = _session(client, identifier="alice")
    assert anonymous.status_code == 201 and anonymous.json()["verified"] is False
    assert anonymous.json()["contact_id"] != known.pk  # an unverified visitor never claims a contact
    assert not ContactIdentity.objects.filter(contact=known, verified_at__isnull=False).exists()

    inbox.identity_required = True
    inbox.save(update_fields=["identity_required"])
    before = _nothing_made()
    refused = _session(client, identifier="alice")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "identity_required"
    assert _nothing_made() == before
    # Anonymous visitors (no id) may still chat; a right hash still works.
    assert _session(client).status_code == 201
    linked = _session(client, identifier="alice", identifier_hash=sign(inbox.identity_secret, "alice"))
    assert linked.status_code == 201 and linked.json()["contact_id"] == known.pk


@pytest.mark.parametrize("identifier", [42, ["alice"], "x" * 129, "tab\there"])
def test_a_malformed_id_is_invalid(client, inbox, identifier):
    before = _nothing_made()
    refused = _session(client, identifier=identifier, identifier_hash="ab" * 32)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid"
    assert _nothing_made() == before


def test_an_anonymous_visitors_identity_cannot_be_claimed_by_id(client, inbox):
    anonymous = _session(client)
    visitor_id = ContactIdentity.objects.get(contact_id=anonymous.json()["contact_id"]).external_id
    assert visitor_id.startswith("visitor:")
    claimed = _session(client, identifier=visitor_id, identifier_hash=sign(inbox.identity_secret, visitor_id))
    # A site may use any id, but its customers live in the inbox's own namespace: never the visitor's contact.
    assert claimed.json()["contact_id"] != anonymous.json()["contact_id"]


def test_the_hash_helper_matches_the_documented_recipe(inbox):
    assert auth.identifier_hash_for(inbox=inbox, identifier="cust-42") == sign(inbox.identity_secret, "cust-42")


def test_the_admin_shows_the_secret_to_copy_and_renews_it(admin_client, inbox):
    page = admin_client.get(f"/admin/imsubsystem/inbox/{inbox.pk}/change/", secure=True)
    assert page.status_code == 200 and inbox.identity_secret in page.content.decode()
    assert 'name="identity_required"' in page.content.decode()
    old = inbox.identity_secret
    answer = admin_client.post(
        "/admin/imsubsystem/inbox/",
        {"action": "identity_secret_renew", "_selected_action": [inbox.pk]},
        secure=True,
    )
    assert answer.status_code == 302
    inbox.refresh_from_db()
    assert inbox.identity_secret != old and len(inbox.identity_secret) == 64
    # A hash made with the old secret no longer proves anything.
    client = admin_client
    refused = _session(client, identifier="cust-42", identifier_hash=sign(old, "cust-42"))
    assert refused.status_code == 403
