"""Demo users, roles and contacts for `manage.py seed_demo` (idempotent: safe to run again)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from crm.models import ChannelKind, Company, Contact, ContactIdentity, Tag
from crm.roles import ADMIN, AGENT, SUPERVISOR, roles_sync, user_set_role

DEMO_PASSWORD = "switchboard-demo"
DEMO_USERS = [
    ("admin", ADMIN, "Ada", "Admin"),
    ("supervisor", SUPERVISOR, "Sam", "Supervisor"),
    ("agent1", AGENT, "Alice", "Agent"),
    ("agent2", AGENT, "Bob", "Agent"),
    ("agent3", AGENT, "Chloe", "Agent"),
]
DEMO_CONTACTS = [
    ("Grace Hopper", ["grace@navy.example"], ["+15550100001"], "en", "America/New_York", "Navy Labs", ["vip"]),
    ("Linus Lovelace", ["linus@kernel.example"], [], "en", "Europe/Helsinki", "Kernel Co", []),
    ("Wang Fang", ["fang@shop.example"], ["+8613800000001"], "zh-Hans", "Asia/Shanghai", "", ["wechat"]),
    ("Amélie Durand", ["amelie@exemple.fr"], ["+33600000001"], "fr", "Europe/Paris", "Kernel Co", ["returning"]),
    ("Carlos Souza", [], ["+5511900000001"], "pt", "America/Sao_Paulo", "", []),
]


def seed(*, stdout=None) -> None:
    roles_sync()
    User = get_user_model()
    for username, role, first, last in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user_set_role(user=user, role=role)

    tags = {
        name: Tag.objects.get_or_create(name=name, defaults={"color": color})[0]
        for name, color in [("vip", "#bf3989"), ("wechat", "#1a7f37"), ("returning", "#1f6feb")]
    }
    for name, emails, phones, language, tz, company_name, tag_names in DEMO_CONTACTS:
        company = Company.objects.get_or_create(name=company_name)[0] if company_name else None
        contact = Contact.objects.filter(name=name).first()
        if contact is None:
            contact = Contact.objects.create(
                name=name, emails=emails, phones=phones, language=language, timezone=tz, company=company
            )
            contact.tags.set([tags[t] for t in tag_names])
        if emails:
            ContactIdentity.objects.get_or_create(
                kind=ChannelKind.EMAIL, external_id=emails[0], defaults={"contact": contact, "display_name": name}
            )
    if stdout:
        stdout.write(f"  users: {', '.join(u for u, *_ in DEMO_USERS)} (password {DEMO_PASSWORD})")


def describe(*, base: str) -> list[str]:
    """For `manage.py describe_urls`: the demo logins."""
    return ["Demo logins (password " + DEMO_PASSWORD + "): " + ", ".join(f"{u} ({r})" for u, r, *_ in DEMO_USERS)]
