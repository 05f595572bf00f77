"""What each action of the resource endpoints needs beyond `StaffWithScope` (a staff role, a token that
may write): the same Django permissions the CRM pages and the admin check today (crm/roles.py), named per
action on each view (`action_perms`), and the supervisor pages' own rule (`SupervisorsOnly`)."""

from __future__ import annotations

from rest_framework import permissions

from supervisor.selectors import user_may_supervise


class ActionPermissions(permissions.BasePermission):
    """The caller holds every permission `view.action_perms[view.action]` names. An action the map does
    not name is refused (a new action must say what it needs)."""

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        needed = getattr(view, "action_perms", {}).get(getattr(view, "action", None) or "")
        if needed is None:
            return request.method == "OPTIONS"
        return request.user.has_perms(needed)


class SupervisorsOnly(permissions.BasePermission):
    """The supervisor dashboard's rule (supervisor.views.supervisor_required): supervisors and admins."""

    message = "Only supervisors and admins may do this."

    def has_permission(self, request, view) -> bool:
        return user_may_supervise(request.user)
