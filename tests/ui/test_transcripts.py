"""Past conversations opened read-only: the console's transcript endpoint, the transcript page the CRM links
to, and the supervisor's page, all behind the one visibility rule (a conversation the user may not see is
a 404 like one that does not exist), with notes, files and the conversation's events."""

from __future__ import annotations

import pytest
from django.test import Client

from imsubsystem import services as switch
from imsubsystem.models import CloseReason, Label, Message
from tests.api.scene_conversations import assigned_conversation, build_teams
from tests.factories import ContactFactory
from tests.factories.media import AttachmentFactory

API = "/api/v1/agent/conversations/{}/transcript"
PAGE = "/conversations/{}/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scene(db, django_capture_on_commit_callbacks):
    """Vera wrote to Sales (ag-a answered, wrote a note, closed it with a wrap-up) and to Support (ag-b)."""
    commit = django_capture_on_commit_callbacks
    scene = build_teams()
    vera = ContactFactory(name="Vera")
    sales = assigned_conversation(scene["sales_inbox"], scene["ag_a"], by=scene["sup_a"], commit=commit, contact=vera)
    with commit(execute=True):
        switch.customer_message_send(
            inbox_id=scene["sales_inbox"].pk, contact_id=vera.pk, text="Where is <b>my</b> parcel?", client_id="c1"
        )
        switch.message_send(
            conversation_id=sales.pk,
            sender_kind="agent",
            sender_user_id=scene["ag_a"].pk,
            text="On its way",
            client_id="a1",
        )
        switch.message_send(
            conversation_id=sales.pk,
            sender_kind="agent",
            sender_user_id=scene["ag_a"].pk,
            text="VIP customer, be quick",
            private=True,
            client_id="n1",
        )
    attachment = AttachmentFactory(conversation_id=sales.pk, original_name="receipt.txt")
    Message.objects.filter(conversation=sales, client_id="c1").update(attachments=[attachment.pk])
    with commit(execute=True):
        switch.conversation_close(conversation_id=sales.pk, by_user_id=scene["ag_a"].pk, wrap_up="Refund <sent>")
    support = assigned_conversation(
        scene["support_inbox"], scene["ag_b"], by=scene["sup_b"], commit=commit, contact=vera
    )
    with commit(execute=True):
        switch.message_send(
            conversation_id=support.pk,
            sender_kind="agent",
            sender_user_id=scene["ag_b"].pk,
            text="Support's own note",
            private=True,
            client_id="n2",
        )
    return {**scene, "vera": vera, "sales_conv": sales, "support_conv": support, "attachment": attachment}


def test_the_agent_who_held_it_reads_the_whole_transcript(scene):
    response = client_for(scene["ag_a"]).get(API.format(scene["sales_conv"].pk))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    data = response.json()
    assert data["conversation"]["contact"]["name"] == "Vera"
    assert data["conversation"]["url"] == PAGE.format(scene["sales_conv"].pk)
    messages = [item["message"] for item in data["items"] if item["type"] == "message"]
    texts = [(m["sender"]["kind"], m["text"], m["private"]) for m in messages]
    assert ("customer", "Where is <b>my</b> parcel?", False) in texts
    assert ("agent", "On its way", False) in texts
    assert ("agent", "VIP customer, be quick", True) in texts
    assert any(kind == "system" and text.startswith("Transferred to") for kind, text, _ in texts)
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    (customer,) = [m for m in messages if m["sender"]["kind"] == "customer"]
    (file,) = customer["attachments"]
    assert file["name"] == "receipt.txt" and file["url"]
    events = [(item["kind"], item.get("agent"), item.get("queue")) for item in data["items"] if item["type"] == "event"]
    assert events[0][0] == "opened"
    assert ("assigned", scene["ag_a"].get_short_name(), "Sales") in events
    assert events[-1][0] == "closed"
    assert data["items"][-1] == {**data["items"][-1], "kind": "closed", "note": "Refund <sent>"}


@pytest.mark.parametrize("who", ["ag_a", "ag_a2", "sup_a"])
def test_another_teams_conversation_a_forged_and_a_missing_id_answer_the_same_404(scene, who):
    client = client_for(scene[who])
    refused = client.get(API.format(scene["support_conv"].pk))
    missing = client.get(API.format(scene["support_conv"].pk + 1000))
    forged = client.get(API.format("9" * 30))
    for response in (refused, missing, forged):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert refused.json() == missing.json() == forged.json()
    assert "Support's own note" not in refused.content.decode()
    for path in (PAGE.format(scene["support_conv"].pk), PAGE.format("9" * 30)):
        page = client.get(path)
        assert page.status_code == 404
        assert "Support's own note" not in page.content.decode()


def test_an_agent_of_the_same_team_who_never_held_it_sees_nothing_of_it(scene):
    # The one rule: an agent sees the conversations assigned to them; a colleague's, even in their own
    # queue, with its notes, stays theirs (and their supervisors').
    client = client_for(scene["ag_a2"])
    assert client.get(API.format(scene["sales_conv"].pk)).status_code == 404
    assert client.get(PAGE.format(scene["sales_conv"].pk)).status_code == 404
    contact_page = client.get(f"/crm/contacts/{scene['vera'].pk}/").content.decode()
    assert PAGE.format(scene["sales_conv"].pk) not in contact_page


def test_a_conversation_transferred_away_is_no_longer_the_first_agents(scene, django_capture_on_commit_callbacks):
    conversation = scene["support_conv"]
    ag_b = client_for(scene["ag_b"])
    assert ag_b.get(API.format(conversation.pk)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        switch.conversation_transfer(
            conversation_id=conversation.pk, by_user_id=scene["sup_b"].pk, agent_id=scene["ag_a"].pk
        )
    # ag-a holds it now and reads it, ag-b's note included; ag-b no longer does.
    assert ag_b.get(API.format(conversation.pk)).status_code == 404
    taken = client_for(scene["ag_a"]).get(API.format(conversation.pk)).json()
    assert "Support's own note" in [item["message"]["text"] for item in taken["items"] if item["type"] == "message"]


def test_supervisors_read_their_teams_conversations_with_notes(scene):
    sup_b = client_for(scene["sup_b"])
    data = sup_b.get(API.format(scene["support_conv"].pk)).json()
    assert "Support's own note" in [item["message"]["text"] for item in data["items"] if item["type"] == "message"]
    assert sup_b.get(API.format(scene["sales_conv"].pk)).status_code == 404
    assert client_for(scene["admin"]).get(API.format(scene["sales_conv"].pk)).status_code == 200


def test_the_transcript_page_draws_the_thread_escaped(scene):
    response = client_for(scene["ag_a"]).get(PAGE.format(scene["sales_conv"].pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Where is &lt;b&gt;my&lt;/b&gt; parcel?" in html
    assert "<b>my</b>" not in html
    assert "Refund &lt;sent&gt;" in html
    assert 'class="thread-msg thread-in thread-from-customer"' in html
    assert 'class="thread-msg thread-out thread-from-agent thread-note"' in html
    assert "thread-event thread-event-assigned" in html and "thread-event thread-event-closed" in html
    assert "receipt.txt" in html
    assert f'href="/crm/contacts/{scene["vera"].pk}/"' in html


def test_the_page_needs_a_login(scene):
    response = Client().get(PAGE.format(scene["sales_conv"].pk))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_crm_record_links_each_conversation_the_user_may_see(scene):
    ag_a = client_for(scene["ag_a"]).get(f"/crm/contacts/{scene['vera'].pk}/").content.decode()
    assert f'href="{PAGE.format(scene["sales_conv"].pk)}"' in ag_a
    assert PAGE.format(scene["support_conv"].pk) not in ag_a
    sup_b = client_for(scene["sup_b"]).get(f"/crm/contacts/{scene['vera'].pk}/").content.decode()
    assert f'href="{PAGE.format(scene["support_conv"].pk)}"' in sup_b
    assert PAGE.format(scene["sales_conv"].pk) not in sup_b


def test_the_console_lists_the_same_conversations_as_the_crm(scene):
    data = client_for(scene["ag_b"]).get(f"/api/v1/agent/conversations/{scene['support_conv'].pk}/contact").json()
    assert [c["id"] for c in data["contact"]["conversations"]] == [scene["support_conv"].pk]


def test_the_supervisor_page_is_the_same_thread(scene):
    response = client_for(scene["sup_a"]).get(f"/supervisor/conversations/{scene['sales_conv'].pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="thread-msg thread-in thread-from-customer"' in html
    assert "thread-note" in html and "VIP customer, be quick" in html
    assert "thread-event-closed" in html
    assert client_for(scene["sup_b"]).get(f"/supervisor/conversations/{scene['sales_conv'].pk}/").status_code == 404


def _reason_and_labels(conversation):
    reason = CloseReason.objects.create(code="solved", name="Solved <fully>")
    conversation.close_reason = reason
    conversation.save(update_fields=["close_reason"])
    bold = Label.objects.create(name="<i>VIP</i>", colour="#111111")
    pale = Label.objects.create(name="Billing", colour="#eeeeee")
    conversation.labels.set([bold, pale])
    # A colour that slipped past the model's check (a raw update) never reaches a style.
    Label.objects.filter(pk=pale.pk).update(colour="red;x:y")
    return bold, pale


def test_the_transcript_shows_the_close_reason_and_the_labels(scene):
    conversation = scene["sales_conv"]
    bold, pale = _reason_and_labels(conversation)
    data = client_for(scene["ag_a"]).get(API.format(conversation.pk)).json()
    closed = next(item for item in data["items"] if item.get("kind") == "closed")
    assert closed["reason"] == "Solved <fully>" and closed["note"] == "Refund <sent>"
    assert data["conversation"]["close_reason"] == "Solved <fully>"
    assert data["conversation"]["labels"] == [
        {"id": bold.pk, "name": "<i>VIP</i>", "colour": "#111111", "ink": "#ffffff"},
        {"id": pale.pk, "name": "Billing", "colour": "#6b7280", "ink": "#ffffff"},
    ]
    for path in (PAGE.format(conversation.pk), f"/supervisor/conversations/{conversation.pk}/"):
        user = scene["ag_a"] if path.startswith("/conversations") else scene["sup_a"]
        html = client_for(user).get(path).content.decode()
        assert '<div class="thread-close-reason">Close reason: Solved &lt;fully&gt;</div>' in html, path
        assert (
            '<span class="label-chip" style="background-color: #111111; color: #ffffff">&lt;i&gt;VIP&lt;/i&gt;</span>'
            in html
        )
        assert "<i>VIP</i>" not in html and "red;x:y" not in html


def test_the_close_reason_and_labels_in_chinese(scene):
    conversation = scene["sales_conv"]
    _reason_and_labels(conversation)
    client = client_for(scene["ag_a"])
    html = client.get(PAGE.format(conversation.pk), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert "结束原因： Solved &lt;fully&gt;" in html
    assert 'aria-label="标签"' in html
