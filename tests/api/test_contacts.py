"""Contacts through the integrator API: the CRM pages' visibility (every contact to every CRM role), the
CRM's write permissions, identities, and merge through crm's one merge service (conversations follow)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Contact, ContactIdentity, ContactMerge
from imsubsystem.models import Conversation
from tests.api import scene
from tests.api.scene import BASE, api_for, error_of, revoked_api_for
from tests.factories import ContactFactory, ContactIdentityFactory, ConversationFactory, TagFactory

pytestmark = pytest.mark.django_db
teams = scene.teams


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [c["id"] for c in response.json()["results"]]


def test_every_crm_role_sees_every_contact_as_the_crm_pages_do(teams):
    # A contact whose conversation is team B's: team A's agent and supervisor still see the contact
    # (the CRM pages show every contact to `crm.view_contact`); its conversations stay the switch's rule.
    theirs = ContactFactory(name="Bea Support")
    ConversationFactory(contact=theirs, inbox=teams["support_inbox"], status="queued")
    mine = ContactFactory(name="Al Sales")
    for user in ("ag_a", "sup_a", "admin"):
        assert set(ids(api_for(teams[user], "read").get(f"{BASE}/contacts"))) >= {theirs.pk, mine.pk}
    body = api_for(teams["ag_a"], "read").get(f"{BASE}/contacts/{theirs.pk}").json()
    assert body["name"] == "Bea Support" and body["display_name"] == "Bea Support"
    assert set(body) >= {"emails", "phones", "tags", "identities", "company", "created_at", "updated_at"}


def test_a_revoked_token_is_refused_everywhere(teams):
    contact = ContactFactory()
    api = revoked_api_for(teams["admin"])
    assert error_of(api.get(f"{BASE}/contacts"), 401)["reason"] == "revoked"
    assert error_of(api.get(f"{BASE}/contacts/{contact.pk}"), 401)["code"] == "auth_failed"
    error_of(api.post_json(f"{BASE}/contacts", {"name": "X"}), 401)
    error_of(api.post_json(f"{BASE}/contacts/{contact.pk}/merge", {"contact_id": 1}), 401)
    assert Contact.objects.count() == 1


def test_search_tag_and_date_filters(teams):
    api = api_for(teams["ag_a"], "read")
    ann = ContactFactory(
        name="Ann Lee", emails=["ann@shop.example"], phones=["+15550001"], tags=[TagFactory(name="vip")]
    )
    bob = ContactFactory(name="Bob Ray", emails=["bob@else.example"], phones=["+4479000"])
    ContactIdentityFactory(contact=bob, kind="telegram", external_id="tg-777")
    assert ids(api.get(f"{BASE}/contacts", {"search": "ann lee"})) == [ann.pk]
    assert ids(api.get(f"{BASE}/contacts", {"search": "shop.example"})) == [ann.pk]
    assert ids(api.get(f"{BASE}/contacts", {"search": "+4479"})) == [bob.pk]
    assert ids(api.get(f"{BASE}/contacts", {"search": "tg-777"})) == [bob.pk]
    assert ids(api.get(f"{BASE}/contacts", {"tag": "vip"})) == [ann.pk]
    assert ids(api.get(f"{BASE}/contacts", {"tag": "nobody"})) == []
    Contact.objects.filter(pk=ann.pk).update(created_at=timezone.now() - timedelta(days=10))
    Contact.objects.filter(pk=bob.pk).update(updated_at=timezone.now() - timedelta(days=5))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ann.pk not in ids(api.get(f"{BASE}/contacts", {"created_after": since}))
    assert ann.pk in ids(api.get(f"{BASE}/contacts", {"created_before": since}))
    assert bob.pk in ids(api.get(f"{BASE}/contacts", {"updated_before": since}))
    assert bob.pk not in ids(api.get(f"{BASE}/contacts", {"updated_after": since}))


@pytest.mark.parametrize("param", ["created_after", "updated_before"])
def test_a_bad_date_is_a_clear_400(teams, param):
    error = error_of(api_for(teams["ag_a"], "read").get(f"{BASE}/contacts", {param: "yesterday"}), 400)
    assert error["code"] == "invalid" and param in error["errors"]


def test_cursor_pagination_walks_every_contact_once(teams):
    made = {ContactFactory().pk for _ in range(5)}
    api = api_for(teams["ag_a"], "read")
    seen, url = [], f"{BASE}/contacts?limit=2"
    while url:
        body = api.get(url).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(made)


@pytest.mark.parametrize("contact_id", ["999999", "abc", "99999999999999999999"])
def test_an_unknown_contact_is_not_found(teams, contact_id):
    assert error_of(api_for(teams["ag_a"]).get(f"{BASE}/contacts/{contact_id}"), 404)["code"] == "not_found"
    error_of(api_for(teams["ag_a"]).patch_json(f"{BASE}/contacts/{contact_id}", {"name": "x"}), 404)


def test_an_agent_creates_and_updates_a_contact(teams):
    api = api_for(teams["ag_a"])
    response = api.post_json(
        f"{BASE}/contacts",
        {"name": " Cy Doe ", "emails": ["cy@x.example", "CY@x.example"], "tags": ["new", "lead"], "language": "fr"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Cy Doe" and body["emails"] == ["cy@x.example"] and body["tags"] == ["lead", "new"]
    contact = Contact.objects.get(pk=body["id"])
    before = contact.updated_at
    response = api.patch_json(f"{BASE}/contacts/{contact.pk}", {"tags": ["vip"]})
    assert response.status_code == 200 and response.json()["tags"] == ["vip"]
    assert response.json()["name"] == "Cy Doe" and response.json()["language"] == "fr"
    assert Contact.objects.get(pk=contact.pk).updated_at >= before
    response = api.patch_json(
        f"{BASE}/contacts/{contact.pk}", {"phones": ["+331"], "custom_attributes": {"plan": "pro"}}
    )
    assert response.json()["phones"] == ["+331"] and response.json()["custom_attributes"] == {"plan": "pro"}


def test_a_read_token_may_not_write_and_nothing_changes(teams):
    contact = ContactFactory(name="Keep")
    reader = api_for(teams["admin"], "read")
    assert reader.get(f"{BASE}/contacts/{contact.pk}").status_code == 200
    assert error_of(reader.post_json(f"{BASE}/contacts", {"name": "New"}), 403)["detail"] == "This token may only read."
    error_of(reader.patch_json(f"{BASE}/contacts/{contact.pk}", {"name": "Changed"}), 403)
    error_of(reader.post_json(f"{BASE}/contacts/{contact.pk}/identities", {"kind": "sms", "external_id": "1"}), 403)
    error_of(reader.post_json(f"{BASE}/contacts/{contact.pk}/merge", {"contact_id": ContactFactory().pk}), 403)
    assert Contact.objects.get(pk=contact.pk).name == "Keep" and Contact.objects.count() == 2
    assert not ContactIdentity.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"emails": ["not-an-email"]}, "emails"),
        ({"name": "x" * 201}, "name"),
        ({"company": 999999}, "company"),
        ({"tags": "vip"}, "tags"),
        ({"custom_attributes": ["a"]}, "custom_attributes"),
        ({"name": "bad \ud800 text"}, "name"),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(teams, body, field):
    contact = ContactFactory(name="Same", emails=["same@x.example"])
    api = api_for(teams["ag_a"])
    error = error_of(api.patch_json(f"{BASE}/contacts/{contact.pk}", body), 400)
    assert error["code"] == "invalid" and field in error["errors"], error
    error_of(api.post_json(f"{BASE}/contacts", body), 400)
    contact.refresh_from_db()
    assert (contact.name, contact.emails, Contact.objects.count()) == ("Same", ["same@x.example"], 1)


def test_a_body_that_is_not_an_object_is_refused(teams):
    api = api_for(teams["ag_a"])
    error_of(api.post_json(f"{BASE}/contacts", ["a"]), 400)
    error_of(api.post(f"{BASE}/contacts", "{nope", content_type="application/json"), 400)
    assert not Contact.objects.exists()


def test_identities_list_add_and_remove_follow_crm_permissions(teams):
    contact = ContactFactory()
    other = ContactFactory()
    ContactIdentityFactory(contact=other, kind="whatsapp", external_id="+155500")
    agent, supervisor = api_for(teams["ag_a"]), api_for(teams["sup_b"])
    response = agent.post_json(f"{BASE}/contacts/{contact.pk}/identities", {"kind": "telegram", "external_id": "42"})
    assert response.status_code == 201, response.content
    identity_id = response.json()["id"]
    listed = agent.get(f"{BASE}/contacts/{contact.pk}/identities").json()
    assert [(i["kind"], i["external_id"]) for i in listed] == [("telegram", "42")]
    # An address another contact holds: 409, naming the holder; nothing added.
    error = error_of(
        agent.post_json(f"{BASE}/contacts/{contact.pk}/identities", {"kind": "whatsapp", "external_id": "+155500"}), 409
    )
    assert error["code"] == "identity_taken" and error["contact_id"] == other.pk
    error = error_of(
        agent.post_json(f"{BASE}/contacts/{contact.pk}/identities", {"kind": "fax", "external_id": "1"}), 400
    )
    assert "kind" in error["errors"]
    assert ContactIdentity.objects.filter(contact=contact).count() == 1
    # Agents may not delete identities (crm.delete_contactidentity is the supervisor's and admin's).
    assert error_of(agent.delete(f"{BASE}/contacts/{contact.pk}/identities/{identity_id}"), 403)["code"] == "forbidden"
    # An identity of another contact through this contact's URL is not found.
    foreign = ContactIdentity.objects.get(contact=other)
    error_of(supervisor.delete(f"{BASE}/contacts/{contact.pk}/identities/{foreign.pk}"), 404)
    assert ContactIdentity.objects.count() == 2
    assert supervisor.delete(f"{BASE}/contacts/{contact.pk}/identities/{identity_id}").status_code == 204
    assert not ContactIdentity.objects.filter(pk=identity_id).exists()
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_merge_moves_conversations_through_the_crm_service(teams):
    target = ContactFactory(name="Keep Me", emails=["keep@x.example"])
    source = ContactFactory(name="", emails=["other@x.example"])
    ContactIdentityFactory(contact=source, kind="sms", external_id="+100")
    conversation = ConversationFactory(contact=source, inbox=teams["sales_inbox"], status="closed")
    response = api_for(teams["sup_a"]).post_json(f"{BASE}/contacts/{target.pk}/merge", {"contact_id": source.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["merged_contact_id"] == source.pk and body["moved"]["identities"] == 1
    assert body["moved"]["conversations"] == 1
    assert body["contact"]["emails"] == ["keep@x.example", "other@x.example"]
    assert [i["external_id"] for i in body["contact"]["identities"]] == ["+100"]
    assert not Contact.objects.filter(pk=source.pk).exists()
    assert Conversation.objects.get(pk=conversation.pk).contact_id == target.pk
    record = ContactMerge.objects.get(target=target)
    assert record.source_id == source.pk and record.merged_by == teams["sup_a"]


def test_merge_refusals_change_nothing(teams):
    target, source = ContactFactory(), ContactFactory()
    # Agents may not merge (crm.merge_contacts is the supervisor's and the admin's, as in the admin).
    error = error_of(
        api_for(teams["ag_a"]).post_json(f"{BASE}/contacts/{target.pk}/merge", {"contact_id": source.pk}), 403
    )
    assert error["code"] == "forbidden"
    supervisor = api_for(teams["sup_a"])
    error_of(supervisor.post_json(f"{BASE}/contacts/{target.pk}/merge", {"contact_id": target.pk}), 400)
    error_of(supervisor.post_json(f"{BASE}/contacts/{target.pk}/merge", {"contact_id": 999999}), 404)
    error_of(supervisor.post_json(f"{BASE}/contacts/999999/merge", {"contact_id": source.pk}), 404)
    assert (
        "contact_id"
        in error_of(supervisor.post_json(f"{BASE}/contacts/{target.pk}/merge", {"contact_id": "x"}), 400)["errors"]
    )
    error_of(supervisor.post_json(f"{BASE}/contacts/{target.pk}/merge", {}), 400)
    assert Contact.objects.count() == 2 and not ContactMerge.objects.exists()


def test_search_finds_chinese_names_and_message_text_through_the_switchs_visibility(teams):
    # A 2-character Chinese word of a name, and of a message the user may see (docs/crm.md, "Search").
    wang = ContactFactory(name="王小明")
    writer = ContactFactory(name="Lin")
    conversation = ConversationFactory(contact=writer, inbox=teams["support_inbox"], assignee=teams["ag_b"])
    from imsubsystem.services import message_send

    message_send(conversation_id=conversation.pk, sender_kind="customer", text="我想申请退款，订单号12345")
    assert ids(api_for(teams["ag_a"], "read").get(f"{BASE}/contacts", {"search": "小明"})) == [wang.pk]
    assert ids(api_for(teams["ag_b"], "read").get(f"{BASE}/contacts", {"search": "退款"})) == [writer.pk]
    assert ids(api_for(teams["sup_b"], "read").get(f"{BASE}/contacts", {"search": "12345"})) == [writer.pk]
    # Team A's agent and supervisor do not see that conversation: its text does not find the contact.
    assert ids(api_for(teams["ag_a"], "read").get(f"{BASE}/contacts", {"search": "退款"})) == []
    assert ids(api_for(teams["sup_a"], "read").get(f"{BASE}/contacts", {"search": "退款"})) == []
