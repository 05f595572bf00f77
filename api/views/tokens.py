"""The caller's own API tokens: list them, make one (its key is in this answer only), revoke one."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from api.models import ApiToken
from api.serializers import NewTokenSerializer, TokenCreateSerializer, TokenSerializer
from api.tokens import token_create, token_revoke
from api.views.base import ApiMixin


@extend_schema_view(
    list=extend_schema(summary="List your API tokens", tags=["tokens"]),
    retrieve=extend_schema(summary="Read one of your API tokens", tags=["tokens"]),
    create=extend_schema(
        summary="Make an API token",
        description="Needs a `write` token. The answer holds the key: it is shown this once, never again "
        "(a retry with the same Idempotency-Key answers the same token with `key` null).",
        request=TokenCreateSerializer,
        responses={201: NewTokenSerializer},
        tags=["tokens"],
    ),
    destroy=extend_schema(
        summary="Revoke one of your API tokens",
        description="Needs a `write` token. The key stops working at once; the token stays listed as revoked.",
        responses={204: OpenApiResponse(description="Revoked (or revoked already).")},
        tags=["tokens"],
    ),
)
class TokenViewSet(
    ApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = TokenSerializer
    queryset = ApiToken.objects.all()
    idempotency_unkept_fields = ("key",)  # a replayed creation does not show the key again

    def get_queryset(self):
        return ApiToken.objects.filter(user_id=self.request.user.pk).order_by("-id")

    def create(self, request, *args, **kwargs):
        form = TokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, key = token_create(user=request.user, **form.validated_data)
        token.key = key  # on this answer only
        body = NewTokenSerializer(token).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": f"{request.path}/{token.pk}"})

    def perform_destroy(self, instance):
        token_revoke(token=instance)
