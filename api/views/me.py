"""`GET /me`: who the caller is, and the token the call was made with."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from api.models import ApiToken
from api.serializers import CallerSerializer, TokenSerializer
from api.views.base import ApiMixin


class MeView(ApiMixin, APIView):
    @extend_schema(responses=CallerSerializer, summary="The caller", tags=["caller"])
    def get(self, request):
        user = request.user
        token = request.auth if isinstance(request.auth, ApiToken) else None
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "name": user.get_full_name() or user.get_username(),
            "roles": sorted(user.groups.values_list("name", flat=True)),
            "token": TokenSerializer(token).data if token else None,
        }
        return Response(CallerSerializer(data).data)
