import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from crm.models import Contact
from crm.roles import user_roles

pytestmark = pytest.mark.django_db


def test_seed_demo_refuses_production_without_force():
    with pytest.raises(CommandError):
        call_command("seed_demo")


def test_seed_demo_is_idempotent():
    call_command("seed_demo", "--force")
    counts = (get_user_model().objects.count(), Contact.objects.count())
    call_command("seed_demo", "--force")
    assert (get_user_model().objects.count(), Contact.objects.count()) == counts
    users = {u.username: u for u in get_user_model().objects.all()}
    assert {"admin", "supervisor", "agent1", "agent2", "agent3"} <= set(users)
    assert user_roles(users["admin"]) == {"Admin"} and users["admin"].is_superuser
    assert user_roles(users["supervisor"]) == {"Supervisor"} and users["supervisor"].is_staff
    assert user_roles(users["agent1"]) == {"Agent"} and not users["agent1"].is_staff
    assert users["agent2"].check_password("switchboard-demo")
