"""Approved WhatsApp templates: an agent sends one outside the 24-hour window and the platform gets the
template request; refusals store nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.roles import AGENT
from gateway import templates
from gateway.models import OutboxItem
from imsubsystem.models import Conversation, Message
from imsubsystem.services import SwitchError
from tests.factories import InboxFactory, UserFactory
from tests.gateway.conftest import Reply
from tests.gateway.test_whatsapp import signed, wa_message, webhook_body

pytestmark = pytest.mark.django_db

TEMPLATES = [
    {"name": "order_update", "language": "en_US", "params": 2, "text": "Hi {{1}}, order {{2}} has shipped."},
    {"name": "hello_again", "language": "de", "params": 0, "text": "Hallo! Schreiben Sie uns gern zurück."},
]


@pytest.fixture
def late_conversation(client, agent, stand_in, django_capture_on_commit_callbacks):
    """A WhatsApp conversation assigned to `agent` whose customer last wrote 30 hours ago."""
    InboxFactory(
        kind="whatsapp",
        key="wa-tpl",
        config={"phone_number_id": "55", "api_base_url": stand_in.url, "templates": TEMPLATES},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "v"},
    )
    old = str(int((timezone.now() - timedelta(hours=30)).timestamp()))
    body = webhook_body(messages=[wa_message("text", {"body": "where is my order?"}, ts=old)])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/whatsapp/wa-tpl/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=signed(body)["X-Hub-Signature-256"],
        )
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent, status="assigned")
    conversation.refresh_from_db()
    return conversation


def wa_ok(request):
    return Reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.TPL1"}]})


def test_a_template_goes_out_as_a_template_request_outside_the_window(
    late_conversation, agent, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = wa_ok
    with django_capture_on_commit_callbacks(execute=True):
        payload, created = templates.template_send(
            conversation_id=late_conversation.pk,
            agent_id=agent.pk,
            name="order_update",
            language="en_US",
            params=["Ada", "A-{{2}}-17"],
        )
    assert created
    # The conversation shows the filled-in preview; a param holding a placeholder is not filled again.
    assert payload["text"] == "Hi Ada, order A-{{2}}-17 has shipped."
    [request] = stand_in.requests
    assert request.path == "/v21.0/55/messages"
    body = request.json()
    assert body["type"] == "template" and body["to"] == "16315551181"
    assert body["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "Ada"}, {"type": "text", "text": "A-{{2}}-17"}]}
        ],
    }
    item = OutboxItem.objects.get()
    assert item.state == "sent" and item.platform_message_id == "wamid.TPL1"
    assert Message.objects.get(pk=payload["id"]).delivery_status == "sent"


def test_a_template_without_params_sends_no_components(
    late_conversation, agent, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = wa_ok
    with django_capture_on_commit_callbacks(execute=True):
        templates.template_send(
            conversation_id=late_conversation.pk, agent_id=agent.pk, name="hello_again", language="de", params=[]
        )
    [request] = stand_in.requests
    assert request.json()["template"] == {"name": "hello_again", "language": {"code": "de"}}


def test_the_same_client_id_sends_once(late_conversation, agent, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = wa_ok
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            templates.template_send(
                conversation_id=late_conversation.pk,
                agent_id=agent.pk,
                name="hello_again",
                language="de",
                params=[],
                client_id="c-1",
            )
    assert len(stand_in.requests) == 1 and OutboxItem.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "language", "params", "code", "detail"),
    [
        ("no_such_template", "en_US", [], "invalid", "no approved template"),
        ("order_update", "de", ["Ada", "17"], "invalid", "no approved template"),
        ("order_update", "en_US", ["Ada"], "invalid", "takes 2 parameter"),
        ("order_update", "en_US", ["Ada", "17", "x"], "invalid", "takes 2 parameter"),
        ("order_update", "en_US", ["Ada", "  "], "invalid", "empty"),
        ("order_update", "en_US", ["Ada", "line\nbreak"], "invalid", "line breaks"),
        ("order_update", "en_US", "Ada,17", "invalid", "list of strings"),
        ("order_update", "en_US", ["Ada", 17], "invalid", "list of strings"),
    ],
)
def test_bad_templates_are_refused_and_nothing_is_stored(
    late_conversation, agent, stand_in, django_capture_on_commit_callbacks, name, language, params, code, detail
):
    messages_before = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(SwitchError) as refused:
        templates.template_send(
            conversation_id=late_conversation.pk, agent_id=agent.pk, name=name, language=language, params=params
        )
    assert refused.value.code == code and detail in refused.value.detail
    assert Message.objects.count() == messages_before and OutboxItem.objects.count() == 0
    assert stand_in.requests == []


def test_another_agents_conversation_is_refused(late_conversation, stand_in, django_capture_on_commit_callbacks):
    other = UserFactory(username="agent-b", role=AGENT)
    messages_before = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(SwitchError) as refused:
        templates.template_send(
            conversation_id=late_conversation.pk, agent_id=other.pk, name="hello_again", language="de", params=[]
        )
    assert refused.value.code == "not_found"
    assert Message.objects.count() == messages_before and OutboxItem.objects.count() == 0
    assert stand_in.requests == []


def test_a_supervisor_may_send_on_their_teams_conversations_only(
    late_conversation, supervisor, stand_in, django_capture_on_commit_callbacks
):
    from supervisor.models import Team
    from tests.factories import QueueFactory

    stand_in.default = wa_ok
    queue = QueueFactory(name="WhatsApp")
    Conversation.objects.filter(pk=late_conversation.pk).update(queue=queue)
    with pytest.raises(SwitchError) as refused:
        templates.template_send(
            conversation_id=late_conversation.pk, agent_id=supervisor.pk, name="hello_again", language="de", params=[]
        )
    assert refused.value.code == "not_found"
    team = Team.objects.create(name="WhatsApp team")
    team.supervisors.add(supervisor)
    team.queues.add(queue)
    with django_capture_on_commit_callbacks(execute=True):
        payload, _ = templates.template_send(
            conversation_id=late_conversation.pk, agent_id=supervisor.pk, name="hello_again", language="de", params=[]
        )
    assert payload["sender"]["kind"] == "agent"
    assert stand_in.requests[0].json()["type"] == "template"


def test_templates_are_only_for_whatsapp_inboxes(agent):
    telegram = InboxFactory(kind="telegram", key="tg-tpl", config={"templates": TEMPLATES})
    assert templates.inbox_templates(inbox_id=telegram.pk) == []


def test_malformed_config_entries_are_left_out():
    inbox = InboxFactory(
        kind="whatsapp",
        key="wa-bad",
        config={"templates": [TEMPLATES[0], "junk", {"name": "x"}, {"name": "y", "language": "en", "params": "2"}]},
    )
    assert [t["name"] for t in templates.inbox_templates(inbox_id=inbox.pk)] == ["order_update"]
