from crm.roles import user_roles


def navigation(request):
    """What the base layout shows in its navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = user_roles(user)
    return {
        "nav_roles": sorted(roles),
        "nav_is_supervisor": bool(roles & {"Admin", "Supervisor"}),
        "nav_is_agent": bool(roles),
    }
