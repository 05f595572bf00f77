"""What a caller may do: a staff role that may use the console or supervise, and a token's scope
(a `read` token may only read). What each object shows is the one visibility rule
(imsubsystem/selectors/visibility.py), applied by each view's queryset."""

from __future__ import annotations

from rest_framework import permissions

from api.models import ApiToken

STAFF_PERMISSIONS = ("imsubsystem.handle_conversations", "imsubsystem.supervise")


def may_use_api(user) -> bool:
    """Whether `user`'s role may call the API at all (with a token or the session)."""
    return bool(user and user.is_authenticated and any(user.has_perm(p) for p in STAFF_PERMISSIONS))


class StaffWithScope(permissions.BasePermission):
    message = "Your role cannot use the API."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not may_use_api(user):
            return False
        token = request.auth if isinstance(request.auth, ApiToken) else None
        if token is not None and request.method not in permissions.SAFE_METHODS and not token.may_write:
            self.message = "This token may only read."
            return False
        return True
