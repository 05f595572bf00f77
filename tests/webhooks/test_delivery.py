"""Delivery from the outbox: a failing receiver gets a retry with backoff and each attempt is logged;
order per conversation is kept under a failure; a private address is refused; a delivery that keeps
failing for the retry window is failed; replay from the admin needs the permission to change deliveries;
the embedded profile (in-process workers, no Celery) delivers too."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from core.errors import DomainError
from imsubsystem import services
from tests.factories import ContactFactory, UserFactory
from tests.gateway.conftest import Reply
from tests.webhooks.conftest import sweep
from webhooks import outbox
from webhooks import services as webhook_services
from webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db


def customer_says(inbox, contact, text, capture, client_id):
    with capture(execute=True):
        message, _ = services.customer_message_send(
            inbox_id=inbox.pk, contact_id=contact.pk, text=text, client_id=client_id
        )
    return message


def staff(username):
    user = UserFactory(username=username)
    user.groups.clear()
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def texts(requests):
    return [r.json()["data"]["message"]["text"] for r in requests]


def test_a_failing_receiver_gets_a_retry_and_each_attempt_is_logged(
    receiver, subscribe, inbox, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_BASE_S = 30.0
    subscribe(["message.created"])
    receiver.script = [Reply(500, {"error": "down for a moment"})]
    before = timezone.now()
    customer_says(inbox, ContactFactory(), "hello", django_capture_on_commit_callbacks, "c1")

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.last_error == "The receiver answered HTTP 500."
    # Exponential from the base with jitter (x1.0-1.25): the first retry 30-37.5 s later.
    assert timedelta(seconds=30) <= delivery.next_attempt_at - before <= timedelta(seconds=38.5)
    assert delivery.retry_until - delivery.created_at == timedelta(hours=24)
    assert outbox.deliveries_drain(subscription_id=delivery.subscription_id, ordering_key=delivery.ordering_key) > 25
    assert len(receiver.requests) == 1, "not attempted again before it is due"

    sweep(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2 and delivery.last_status_code == 200
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [500, 200]
    assert "down for a moment" in attempts[0].response_snippet and attempts[0].error
    assert attempts[1].error == "" and attempts[0].duration_ms >= 0
    first, second = receiver.requests
    assert first.json()["id"] == second.json()["id"], "a retry is the same event"
    assert first.headers["X-Switchboard-Delivery"] == second.headers["X-Switchboard-Delivery"] == str(delivery.pk)


def test_backoff_grows_and_stops_at_the_window(
    receiver, subscribe, inbox, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_BASE_S = 10.0
    settings.WEBHOOK_RETRY_MAX_S = 60.0
    assert [round(outbox.backoff_s(n) // 10) for n in (1, 2, 3)] in ([1, 2, 4], [1, 2, 5], [1, 3, 4], [1, 3, 5])
    assert 60.0 <= outbox.backoff_s(12) <= 75.0
    subscribe(["message.created"])
    receiver.default = Reply(503)
    customer_says(inbox, ContactFactory(), "never", django_capture_on_commit_callbacks, "c1")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(retry_until=timezone.now() - timedelta(seconds=1))
    sweep(django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and delivery.last_status_code == 503
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


def test_order_per_conversation_is_kept_under_a_failure(receiver, subscribe, inbox, django_capture_on_commit_callbacks):
    subscribe(["message.created"])
    receiver.script = [Reply(500)]
    alice, bob = ContactFactory(), ContactFactory()
    customer_says(inbox, alice, "a1", django_capture_on_commit_callbacks, "a1")  # fails, retried later
    customer_says(inbox, alice, "a2", django_capture_on_commit_callbacks, "a2")  # waits behind a1
    customer_says(inbox, bob, "b1", django_capture_on_commit_callbacks, "b1")  # another conversation: goes
    assert texts(receiver.requests) == ["a1", "b1"]
    assert WebhookDelivery.objects.get(payload__data__message__text="a2").attempts == 0

    # a2 due before a1 (as if a sweep found it first): still not sent ahead of a1.
    WebhookDelivery.objects.filter(payload__data__message__text="a2").update(next_attempt_at=timezone.now())
    a2 = WebhookDelivery.objects.get(payload__data__message__text="a2")
    assert outbox.deliveries_drain(subscription_id=a2.subscription_id, ordering_key=a2.ordering_key) > 0
    assert texts(receiver.requests) == ["a1", "b1"]

    sweep(django_capture_on_commit_callbacks)
    assert texts(receiver.requests) == ["a1", "b1", "a1", "a2"]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_private_address_is_refused(receiver, subscribe, inbox, settings, django_capture_on_commit_callbacks):
    subscription = subscribe(["message.created"])
    settings.OUTBOUND_FETCH_ALLOW = []  # as in production: loopback is not reachable
    with pytest.raises(DomainError) as refused:
        subscribe(["message.created"], path="/other")
    assert refused.value.code == "invalid" and "loopback" in refused.value.detail
    for url in ("http://10.0.0.5/hook", "http://169.254.169.254/latest", "ftp://example.com/x"):
        with pytest.raises(DomainError):
            webhook_services.subscription_update(subscription_id=subscription.pk, data={"target_url": url})

    customer_says(inbox, ContactFactory(), "secret", django_capture_on_commit_callbacks, "c1")
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and delivery.attempts == 1, "refused at once, never retried"
    assert "loopback" in delivery.last_error
    assert "loopback" in WebhookAttempt.objects.get(delivery=delivery).error


def test_an_inactive_subscription_gets_nothing(receiver, subscribe, inbox, django_capture_on_commit_callbacks):
    subscription = subscribe(["message.created"])
    webhook_services.subscription_update(subscription_id=subscription.pk, data={"active": False})
    customer_says(inbox, ContactFactory(), "hi", django_capture_on_commit_callbacks, "c1")
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_replay_from_the_admin(receiver, subscribe, inbox, client, django_capture_on_commit_callbacks):
    subscribe(["message.created"])
    customer_says(inbox, ContactFactory(), "again", django_capture_on_commit_callbacks, "c1")
    delivery = WebhookDelivery.objects.get(status="delivered")
    changelist = "/admin/webhooks/webhookdelivery/"

    viewer = staff("hook-viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client.force_login(viewer)
    assert client.get(changelist, secure=True).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "replay", "_selected_action": [delivery.pk]}, secure=True)
    assert len(receiver.requests) == 1, "a view-only user cannot replay"
    with pytest.raises(DomainError) as refused:
        webhook_services.delivery_replay(delivery_ids=[delivery.pk], by_user=viewer)
    assert refused.value.code == "forbidden"

    operator = staff("hook-operator")
    operator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_webhookdelivery", "change_webhookdelivery"])
    )
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist, {"action": "replay", "_selected_action": [delivery.pk]}, secure=True, follow=True
        )
    assert any("1 deliveries queued again" in str(m) for m in response.context["messages"])
    assert len(receiver.requests) == 2
    assert receiver.requests[0].json() == receiver.requests[1].json(), "the same event, id and all"
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and WebhookAttempt.objects.filter(delivery=delivery).count() == 2
    page = client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/", secure=True)
    assert page.status_code == 200 and page.content.count(b"200") >= 2


def test_the_subscription_admin_shows_the_secret_and_checkboxes(receiver, admin_client_role, settings):
    response = admin_client_role.post(
        "/admin/webhooks/webhooksubscription/add/",
        {
            "name": "CRM",
            "target_url": receiver.url + "/crm",
            "event_types": ["conversation.closed", "message.created"],
            "active": "on",
        },
        secure=True,
    )
    assert response.status_code == 302, response.content[:2000]
    subscription = webhook_services.selectors.subscriptions_list().get(name="CRM")
    assert subscription.event_types == ["conversation.closed", "message.created"]
    assert subscription.secret.startswith("whsec_") and subscription.created_by is not None
    page = admin_client_role.get(f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/", secure=True)
    assert subscription.secret.encode() in page.content
    assert b'type="checkbox" name="event_types" value="survey.answered"' in page.content

    settings.OUTBOUND_FETCH_ALLOW = []
    refused = admin_client_role.post(
        "/admin/webhooks/webhooksubscription/add/",
        {"name": "Internal", "target_url": "http://127.0.0.1:9/x", "event_types": ["message.created"]},
        secure=True,
    )
    assert refused.status_code == 200 and b"loopback" in refused.content


@pytest.mark.django_db(transaction=True)
def test_the_embedded_profile_delivers_through_its_in_process_workers(receiver, subscribe, inbox, settings):
    settings.INPROCESS_WORKERS = 2  # with eager Celery: the embedded default's background threads
    subscribe(["message.created"])
    services.customer_message_send(inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="embedded", client_id="c1")
    deadline = time.monotonic() + 10
    while not WebhookDelivery.objects.filter(status="delivered").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert texts(receiver.accepted) == ["embedded"]
    assert WebhookDelivery.objects.get().status == "delivered"
