"""Lists page by an opaque cursor (stable under inserts, as Slack's and Stripe's APIs do)."""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

BAD_CURSOR = "Not a cursor this list gave: pass `next` or `previous` from a page of it, unchanged."


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    _model = None

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """A cursor that is not one of ours is the caller's mistake (400 `invalid`), not a missing page:
        one that does not decode, or whose position is not a value of the ordering field (which the
        database would refuse)."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [BAD_CURSOR]}) from None
        if cursor is not None and cursor.position is not None and self._model is not None:
            name = (self.ordering if isinstance(self.ordering, str) else self.ordering[0]).lstrip("-")
            try:
                field = self._model._meta.pk if name == "pk" else self._model._meta.get_field(name)
            except FieldDoesNotExist:
                return cursor
            try:
                field.to_python(cursor.position)
            except (DjangoValidationError, ValueError, TypeError):
                raise ValidationError({self.cursor_query_param: [BAD_CURSOR]}) from None
        return cursor
