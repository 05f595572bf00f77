"""Roles as Django groups with permissions: Admin, Supervisor, Agent.

Permissions are named as "app_label.codename" strings so this module imports no other app; a
permission whose app is not installed yet is skipped, and `roles_sync` runs after every migrate, so the
groups follow the apps as they grow. Edit a role here, not in the admin: the next migrate resets it.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

ADMIN = "Admin"
SUPERVISOR = "Supervisor"
AGENT = "Agent"
ROLES = (ADMIN, SUPERVISOR, AGENT)

_CRUD = ("view", "add", "change", "delete")


def _all(app_label: str, *models: str, actions=_CRUD) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models for action in actions]


ROLE_PERMISSIONS: dict[str, list[str] | str] = {
    ADMIN: "__all__",
    SUPERVISOR: [
        *_all("crm", "contact", "company", "contactidentity", "note", "tag"),
        "crm.view_contactmerge",
        "crm.merge_contacts",
        *_all("routing", "queue", "skill", "agentprofile", "agentskill"),
        "routing.view_assignmentevent",
        *_all("imsubsystem", "conversation", "message", "cannedresponse", actions=("view", "change")),
        "imsubsystem.add_cannedresponse",
        "imsubsystem.delete_cannedresponse",
        "imsubsystem.view_inbox",
        "imsubsystem.supervise",
        *_all("bots", "faqentry", "botflow", "botstep", "businesshours", "holiday"),
        "media.view_attachment",
        "auth.view_user",
    ],
    AGENT: [
        *_all("crm", "contact", "contactidentity", "note", actions=("view", "add", "change")),
        "crm.view_company",
        "crm.view_tag",
        "crm.add_tag",
        "imsubsystem.view_conversation",
        "imsubsystem.view_message",
        "imsubsystem.view_cannedresponse",
        "imsubsystem.handle_conversations",
        "media.view_attachment",
    ],
}

# Staff roles may log in to the Django admin (which still checks each model permission).
STAFF_ROLES = (ADMIN, SUPERVISOR)


def _permissions(names: list[str]) -> list[Permission]:
    wanted: dict[tuple[str, str], None] = {tuple(name.split(".", 1)): None for name in names}
    found = Permission.objects.select_related("content_type").filter(
        content_type__app_label__in={app for app, _ in wanted}, codename__in={code for _, code in wanted}
    )
    return [p for p in found if (p.content_type.app_label, p.codename) in wanted]


def roles_sync(**kwargs) -> None:
    """Create the role groups and set their permissions (post_migrate receiver)."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        if names == "__all__":
            group.permissions.set(Permission.objects.all())
        else:
            group.permissions.set(_permissions(list(names)))


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    roles = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    if user.is_superuser:
        roles.add(ADMIN)
    return roles


def user_set_role(*, user, role: str) -> None:
    """Give a user exactly one role; staff access follows it."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    user.is_staff = role in STAFF_ROLES
    user.is_superuser = role == ADMIN
    user.save(update_fields=["is_staff", "is_superuser"])
