"""Roles and the admin: each role reaches what it should, and nothing more."""

import pytest
from django.contrib.auth.models import Group

from crm.roles import ADMIN, AGENT, ROLES, SUPERVISOR
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/admin/",
    "/admin/crm/contact/",
    "/admin/crm/contact/add/",
    "/admin/crm/company/",
    "/admin/crm/contactidentity/",
    "/admin/crm/note/",
    "/admin/crm/tag/",
    "/admin/crm/contactmerge/",
    "/admin/auth/user/",
    "/admin/auth/group/",
]


def test_role_groups_exist_after_migrate():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)
    assert Group.objects.get(name=AGENT).permissions.filter(codename="view_contact").exists()
    assert not Group.objects.get(name=AGENT).permissions.filter(codename="change_user").exists()


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_pages_load_for_admin(client, url):
    client.force_login(UserFactory(username="root-admin", role=ADMIN))
    ContactFactory()
    assert client.get(url).status_code == 200


def test_admin_change_page_loads(client):
    client.force_login(UserFactory(username="root-admin", role=ADMIN))
    contact = ContactFactory()
    assert client.get(f"/admin/crm/contact/{contact.pk}/change/").status_code == 200


@pytest.mark.parametrize("url", ["/admin/", "/admin/crm/contact/", "/admin/crm/tag/"])
def test_supervisor_reaches_crm_admin(client, url):
    client.force_login(UserFactory(username="sup", role=SUPERVISOR))
    assert client.get(url).status_code == 200


def test_supervisor_cannot_edit_users(client):
    other = UserFactory(username="someone")
    client.force_login(UserFactory(username="sup", role=SUPERVISOR))
    # Supervisors may look up users (to see who is who), read-only: no save button, and a save is refused.
    page = client.get(f"/admin/auth/user/{other.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    response = client.post(f"/admin/auth/user/{other.pk}/change/", {"username": "renamed"})
    assert response.status_code == 403
    other.refresh_from_db()
    assert other.username == "someone"
    assert client.get("/admin/auth/group/").status_code == 403


@pytest.mark.parametrize("url", ["/admin/", "/admin/auth/user/", "/admin/crm/contact/"])
def test_agent_cannot_open_admin(client, url):
    other = UserFactory(username="someone")
    client.force_login(UserFactory(username="ag", role=AGENT))
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.get(f"/admin/auth/user/{other.pk}/change/").status_code == 302


def test_set_role_replaces_the_previous_one():
    from crm.roles import user_roles, user_set_role

    user = UserFactory(username="promoted", role=AGENT)
    user_set_role(user=user, role=SUPERVISOR)
    assert user_roles(user) == {SUPERVISOR} and user.is_staff and not user.is_superuser
    with pytest.raises(ValueError):
        user_set_role(user=user, role="Janitor")
