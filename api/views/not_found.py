"""Any other path under /api/rest/v1/: 404 `not_found` in the one error shape (not Django's HTML page),
whoever calls."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from api.views.base import ApiMixin


@extend_schema(exclude=True)
class NoSuchEndpoint(ApiMixin, APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise NotFound("No such endpoint: see the OpenAPI document at /api/rest/v1/schema.")
