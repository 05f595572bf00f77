"""The staff user's language and timezone for each request (docs/i18n.md).

After LocaleMiddleware (which chose from the language cookie or Accept-Language) and
AuthenticationMiddleware: a logged-in user's saved language wins over that choice, and their saved
timezone makes server-rendered dates show in their time. Nothing saved: LocaleMiddleware's choice and the
server's TIME_ZONE stay."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone, translation

from switchboard.preferences import preference_get

UNPERSONAL_PATHS = ("/healthz", "/metrics")


class StaffLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Without a session cookie nobody is logged in: the session (and Vary: Cookie) stay untouched.
        # Health and metrics answer for machines and must not depend on the database being there.
        preference = None
        if settings.SESSION_COOKIE_NAME in request.COOKIES and not request.path.startswith(UNPERSONAL_PATHS):
            try:
                preference = preference_get(user=getattr(request, "user", None))
            except DatabaseError:
                preference = None  # the database away: the view answers for itself (503, docs/deployment.md)
        if preference is not None:
            if preference.language:
                translation.activate(preference.language)
                request.LANGUAGE_CODE = translation.get_language()
            if preference.timezone:
                try:
                    timezone.activate(zoneinfo.ZoneInfo(preference.timezone))
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
