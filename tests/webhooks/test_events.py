"""Each event type reaches a subscribed receiver with its documented, versioned payload, signed; a change
rolled back sends nothing; a team-scoped subscription hears only of its team's conversations; and the
message path writes nothing when nobody subscribed, one insert per batch when someone did."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots.models import SurveyResponse
from bots.services import survey_record
from core.errors import DomainError
from crm import services as crm_services
from crm.models import Contact
from imsubsystem import services
from imsubsystem.selectors import user_display_name
from imsubsystem.services.drafts import Draft
from imsubsystem.services.messages import messages_store
from supervisor.models import Team
from tests.factories import ContactFactory, UserFactory
from tests.webhooks.conftest import make_due
from webhooks import selectors, tasks
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.signing import signature_make, signature_verify

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def docs_verify():
    """The verification example of docs/webhooks.md, run as written."""
    text = DOCS.read_text()
    block = re.search(r"<!-- example: verify -->\s*```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(DOCS), "exec"), namespace)
    return namespace["verify"]


def received(receiver, event_type=None):
    return [r for r in receiver.requests if event_type is None or r.headers.get("X-Switchboard-Event") == event_type]


def test_every_event_type_is_delivered_with_its_payload(receiver, subscribe, inbox, django_capture_on_commit_callbacks):
    subscription = subscribe()
    agent = UserFactory(username="hook-agent", first_name="Ada", last_name="Agent")
    with django_capture_on_commit_callbacks(execute=True):
        contact = crm_services.contact_create(name="Carla", emails=["carla@example.com"])
    with django_capture_on_commit_callbacks(execute=True):
        crm_services.contact_update(contact=contact, data={"language": "fr"})
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = services.customer_message_send(
            inbox_id=inbox.pk, contact_id=contact.pk, text="Where is <my> order?", client_id="c1"
        )
    conversation_id = message["conversation_id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert services.conversation_assign(conversation_id=conversation_id, agent_id=agent.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_close(conversation_id=conversation_id, by_user_id=agent.pk, wrap_up="Shipped")
    survey = SurveyResponse.objects.create(
        conversation_id=conversation_id,
        inbox_id=inbox.pk,
        contact_id=contact.pk,
        agent_id=agent.pk,
        queue_id=inbox.default_queue_id,
        sent_at=timezone.now(),
    )
    with django_capture_on_commit_callbacks(execute=True):
        survey_record(survey_id=survey.pk, rating=5, comment="Quick")

    types = [r.headers["X-Switchboard-Event"] for r in receiver.requests]
    assert types == [
        "contact.created",
        "contact.updated",
        "conversation.created",
        "message.created",
        "conversation.assigned",
        "conversation.closed",
        "survey.answered",
    ]
    verify = docs_verify()
    bodies = {}
    for request in receiver.requests:
        assert request.path == "/hook"
        assert request.headers["Content-Type"] == "application/json"
        assert verify(subscription.secret, request.body, request.headers["X-Switchboard-Signature"])
        assert signature_verify(
            secret=subscription.secret, body=request.body, header=request.headers["X-Switchboard-Signature"]
        )
        body = request.json()
        assert set(body) == {"id", "type", "version", "created_at", "data"}
        assert body["version"] == 1 and body["type"] == request.headers["X-Switchboard-Event"]
        uuid.UUID(body["id"])
        delivery = WebhookDelivery.objects.get(pk=int(request.headers["X-Switchboard-Delivery"]))
        assert str(delivery.event_id) == body["id"] and delivery.status == "delivered"
        bodies[body["type"]] = body["data"]

    assert bodies["contact.created"]["contact"]["name"] == "Carla"
    assert bodies["contact.created"]["contact"]["emails"] == ["carla@example.com"]
    assert bodies["contact.updated"]["contact"]["language"] == "fr"
    assert bodies["contact.updated"]["changed"] == ["language"]
    created = bodies["conversation.created"]["conversation"]
    assert created["id"] == conversation_id and created["status"] == "queued"
    assert created["inbox"] == {"id": inbox.pk, "kind": "web", "name": inbox.name}
    assert created["contact"] == {"id": contact.pk, "name": "Carla"}
    assert created["queue"]["id"] == inbox.default_queue_id
    sent = bodies["message.created"]["message"]
    assert sent["text"] == "Where is <my> order?" and sent["seq"] == 1 and sent["private"] is False
    assert sent["sender"] == {"kind": "customer", "name": "Carla"}
    assert bodies["message.created"]["conversation"]["id"] == conversation_id
    assigned = bodies["conversation.assigned"]
    assert (
        assigned["agent"] == {"id": agent.pk, "name": user_display_name(agent)} and assigned["previous_agent"] is None
    )
    assert assigned["conversation"]["status"] == "assigned"
    closed = bodies["conversation.closed"]
    assert closed["conversation"]["status"] == "closed" and closed["conversation"]["closed_at"]
    assert closed["wrap_up"] == "Shipped" and closed["closed_by"]["id"] == agent.pk
    assert closed["previous_status"] == "assigned"
    answered = bodies["survey.answered"]["survey"]
    assert answered["rating"] == 5 and answered["comment"] == "Quick" and answered["complete"] is True
    assert answered["conversation_id"] == conversation_id
    assert WebhookAttempt.objects.filter(status_code=200).count() == 7


def test_only_the_subscribed_event_types_are_sent(receiver, subscribe, inbox, django_capture_on_commit_callbacks):
    subscribe(["conversation.closed"])
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = services.customer_message_send(
            inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="hi", client_id="c1"
        )
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_close(conversation_id=message["conversation_id"])
    assert [r.headers["X-Switchboard-Event"] for r in receiver.requests] == ["conversation.closed"]


def test_the_signature_is_hmac_of_timestamp_and_body():
    header = signature_make(secret="whsec_x", body=b'{"a":1}', timestamp=1_700_000_000)
    assert (
        header == "t=1700000000,v1=" + __import__("hmac").new(b"whsec_x", b'1700000000.{"a":1}', "sha256").hexdigest()
    )
    now_header = signature_make(secret="whsec_x", body=b"{}")
    verify = docs_verify()
    assert verify("whsec_x", b"{}", now_header)
    assert not verify("whsec_y", b"{}", now_header)
    assert not verify("whsec_x", b"{ }", now_header)
    assert not verify("whsec_x", b'{"a":1}', header), "an old timestamp (a replay) is refused"
    assert not verify("whsec_x", b"{}", "v1=abc") and not verify("whsec_x", b"{}", "")


def test_a_rolled_back_change_sends_nothing(receiver, subscribe, inbox, django_capture_on_commit_callbacks):
    subscribe()
    contact = ContactFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="lost", client_id="c1")
        crm_services.contact_create(name="Ghost")
        assert WebhookDelivery.objects.count() == 3  # conversation, message, contact: in the transaction
        raise RuntimeError("the change fails after the events")
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_a_team_scoped_subscription_hears_only_of_its_team(
    receiver,
    subscribe,
    teams,
    django_capture_on_commit_callbacks,
):
    subscribe(["conversation.created", "message.created", "conversation.closed"], team=Team.objects.get(name="A"))
    everything = subscribe(["conversation.created", "message.created"], path="/all")
    contact = ContactFactory()
    opened = {}
    for key, inbox in (("a", teams["sales_inbox"]), ("b", teams["support_inbox"])):
        with django_capture_on_commit_callbacks(execute=True):
            message, _ = services.customer_message_send(
                inbox_id=inbox.pk, contact_id=contact.pk, text=f"to {key}", client_id=f"c-{key}"
            )
        opened[key] = message["conversation_id"]
        with django_capture_on_commit_callbacks(execute=True):
            services.conversation_close(conversation_id=message["conversation_id"])
    scoped = [r.json() for r in receiver.requests if r.path == "/hook"]
    assert [b["type"] for b in scoped] == ["conversation.created", "message.created", "conversation.closed"]
    assert {b["data"]["conversation"]["id"] for b in scoped} == {opened["a"]}
    assert scoped[1]["data"]["message"]["text"] == "to a"
    assert len([r for r in receiver.requests if r.path == "/all"]) == 4
    assert everything.team_id is None


def test_contact_events_cannot_be_team_scoped(subscribe, teams):
    with pytest.raises(DomainError) as refused:
        subscribe(["contact.created"], team=Team.objects.get(name="A"))
    assert refused.value.code == "invalid" and "team" in refused.value.detail


def test_no_subscription_means_no_webhook_query_on_the_message_path(inbox, django_capture_on_commit_callbacks):
    message, _ = services.customer_message_send(
        inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="warm", client_id="c0"
    )
    selectors.subscriptions_active()  # the process's cache is warm, as in a running server
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        services.message_send(conversation_id=message["conversation_id"], sender_kind="bot", text="hello")
    assert not [q["sql"] for q in queries if "webhooks_" in q["sql"]]


def test_a_batch_of_messages_is_one_insert(receiver, subscribe, inbox, django_capture_on_commit_callbacks):
    subscribe(["message.created"])
    subscribe(["message.created"], path="/second")
    conversations = []
    for n in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            message, _ = services.customer_message_send(
                inbox_id=inbox.pk, contact_id=ContactFactory().pk, text=f"first {n}", client_id=f"c{n}"
            )
        conversations.append(message["conversation_id"])
    receiver.requests.clear()
    drafts = [Draft(conversation_id=c, sender_kind="bot", text=f"reply {i}") for i in range(2) for c in conversations]
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
        results = messages_store(drafts)
    assert all(r["created"] for r in results)
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO `webhooks_webhookdelivery`")]
    assert len(inserts) == 1
    assert WebhookDelivery.objects.filter(payload__data__message__text__startswith="reply").count() == 12
    for callback in callbacks:
        callback()
    assert len(receiver.requests) == 12


@pytest.mark.django_db(transaction=True)
def test_contacts_added_and_changed_in_admin_are_told_like_any_other(receiver, subscribe, admin_client):
    subscribe(["contact.created", "contact.updated"])
    response = admin_client.post(
        "/admin/crm/contact/add/",
        {
            "name": "Admin Added",
            "emails": '["added@example.com"]',
            "phones": "[]",
            "custom_attributes": "{}",
            "language": "",
            "timezone": "",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "notes-TOTAL_FORMS": "0",
            "notes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    contact = Contact.objects.get(name="Admin Added")
    response = admin_client.post(
        f"/admin/crm/contact/{contact.pk}/change/",
        {
            "name": "Admin Changed",
            "emails": '["added@example.com"]',
            "phones": "[]",
            "custom_attributes": "{}",
            "language": "de",
            "timezone": "",
            "identities-TOTAL_FORMS": "0",
            "identities-INITIAL_FORMS": "0",
            "notes-TOTAL_FORMS": "0",
            "notes-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    make_due()
    tasks.webhooks_sweep()
    sent = [(r.headers["X-Switchboard-Event"], json.loads(r.body)["data"]) for r in receiver.requests]
    assert [kind for kind, _ in sent] == ["contact.created", "contact.updated"]
    assert sent[1][1]["changed"] == ["name", "language"]


def test_a_merge_tells_of_the_surviving_contact(receiver, subscribe, django_capture_on_commit_callbacks):
    target = ContactFactory(name="Kept", language="")
    source = ContactFactory(name="Folded", language="es")
    subscribe(["contact.updated"])
    with django_capture_on_commit_callbacks(execute=True):
        crm_services.contact_merge(source=source, target=target)
    sent = received(receiver, "contact.updated")
    assert len(sent) == 1
    data = json.loads(sent[0].body)["data"]
    assert data["contact"]["id"] == target.pk and "language" in data["changed"]
