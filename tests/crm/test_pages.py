import pytest

from crm.models import Note
from crm.roles import AGENT
from tests.factories import ContactFactory, ContactIdentityFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_contact_pages_need_login(client):
    response = client.get("/crm/contacts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_login_form_honours_next(client, agent):
    response = client.post(
        "/accounts/login/", {"username": agent.username, "password": "correct-horse-battery", "next": "/crm/contacts/"}
    )
    assert response.status_code == 302 and response["Location"] == "/crm/contacts/"


def test_contact_list_search(agent_client):
    ContactFactory(name="Ada Lovelace", emails=["ada@engine.example"])
    ContactFactory(name="Charles Babbage", emails=["cb@engine.example"])
    tg = ContactIdentityFactory(external_id="tg-998877", contact=ContactFactory(name="Telegram Person"))
    assert b"Ada Lovelace" in agent_client.get("/crm/contacts/?q=lovelace").content
    page = agent_client.get("/crm/contacts/?q=engine.example").content.decode()
    assert "Ada Lovelace" in page and "Charles Babbage" in page and "Telegram Person" not in page
    assert tg.contact.name.encode() in agent_client.get("/crm/contacts/?q=998877").content


def test_contact_list_tag_filter(agent_client):
    vip = TagFactory(name="vip")
    ContactFactory(name="Very Important", tags=[vip])
    ContactFactory(name="Regular Person")
    page = agent_client.get("/crm/contacts/?tag=vip").content.decode()
    assert "Very Important" in page and "Regular Person" not in page


def test_contact_detail_escapes_customer_text(agent_client):
    contact = ContactFactory(name="<img src=x onerror=alert(1)>")
    page = agent_client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert "<img src=x onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_contact_edit_and_tags(agent_client):
    contact = ContactFactory(name="Old Name")
    response = agent_client.post(
        f"/crm/contacts/{contact.pk}/",
        {
            "name": "New Name",
            "emails": "a@x.example\nb@x.example",
            "phones": "",
            "language": "fr",
            "timezone": "Europe/Paris",
            "company": "",
            "tags": "vip, returning",
        },
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.name == "New Name" and contact.emails == ["a@x.example", "b@x.example"]
    assert {t.name for t in contact.tags.all()} == {"vip", "returning"}


def test_contact_edit_rejects_bad_email(agent_client):
    contact = ContactFactory(name="Keep Me", emails=["ok@x.example"])
    response = agent_client.post(
        f"/crm/contacts/{contact.pk}/",
        {
            "name": "Changed",
            "emails": "not-an-email",
            "phones": "",
            "language": "",
            "timezone": "",
            "company": "",
            "tags": "",
        },
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.name == "Keep Me" and contact.emails == ["ok@x.example"]


def test_add_note(agent_client, agent):
    contact = ContactFactory()
    agent_client.post(f"/crm/contacts/{contact.pk}/notes/", {"body": "Called back, all good."})
    note = Note.objects.get(contact=contact)
    assert note.author == agent and note.body == "Called back, all good."
    agent_client.post(f"/crm/contacts/{contact.pk}/notes/", {"body": "   "})
    assert Note.objects.filter(contact=contact).count() == 1


def test_unknown_contact_is_404(agent_client):
    assert agent_client.get("/crm/contacts/999999/").status_code == 404


def test_user_without_role_cannot_see_contacts(client):
    nobody = UserFactory(username="norole", role=AGENT)
    nobody.groups.clear()
    client.force_login(nobody)
    assert client.get("/crm/contacts/").status_code == 403
