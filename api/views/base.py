"""What every view of the integrator API shares: the authentication, the permission, the error shape
and the cursor (set once in settings.REST_FRAMEWORK), and no caching of personal data."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers


class ApiMixin:
    """Every view of the API inherits this first: what all of them do beyond settings.REST_FRAMEWORK.
    Cache-Control: no-store on every answer, refusals too (the console's API does the same)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        add_never_cache_headers(response)
        return response
