from django.utils.translation import gettext_lazy as _

from crm.roles import user_roles

# The roles' names as the header and the account page show them (the groups keep their English names).
ROLE_LABELS = {"Admin": _("Admin"), "Supervisor": _("Supervisor"), "Agent": _("Agent")}


def navigation(request):
    """What the base layout shows in its navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = user_roles(user)
    return {
        "nav_roles": sorted(str(ROLE_LABELS.get(role, role)) for role in roles),
        "nav_is_supervisor": bool(roles & {"Admin", "Supervisor"}),
        "nav_is_agent": bool(roles),
    }
