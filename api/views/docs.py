"""The OpenAPI document (`/api/rest/v1/schema`) and its documentation page (`/api/rest/v1/docs`): Swagger
UI from Switchboard's own static files, with "Try it out" on the caller's staff session (CSRF included) or
a key. Both open to anyone (the document describes the API, no data), never cached.

drf-spectacular's split view serves the page's start-up script as a file of its own (`?script`), so the
page runs under the site's Content-Security-Policy (config/settings.py) unchanged: no inline script or
style, nothing from another origin (no CDN, no validator badge)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.views.base import ApiMixin


class ApiSchemaView(ApiMixin, SpectacularAPIView):
    pass


class ApiDocsView(ApiMixin, SpectacularSwaggerSplitView):
    template_name = "api/docs.html"  # drf-spectacular's, without its inline <style>
