"""The staff user's language and timezone (docs/i18n.md): read on every request by
`switchboard.middleware.StaffLanguageMiddleware`, written by the account page and the header's switcher."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import check_for_language

from switchboard.models import StaffPreference

LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def preference_get(*, user) -> StaffPreference | None:
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.staff_preference
    except StaffPreference.DoesNotExist:
        return None


def language_set(*, user, language: str) -> None:
    """Keep the chosen language for a logged-in user; an unknown one is ignored (Django's set_language
    refuses it too)."""
    if not getattr(user, "is_authenticated", False) or language not in LANGUAGE_CODES:
        return
    if not check_for_language(language):
        return
    StaffPreference.objects.update_or_create(user=user, defaults={"language": language})
