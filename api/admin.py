"""Admin for API tokens: every user's tokens listed, revoked in bulk, and made for a user (the key is shown
on the page that answers the form, this once). The key's hash never appears."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from api.models import ApiToken
from api.tokens import token_key_assign


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "scope", "key_start", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("user__username", "name", "prefix")
    list_select_related = ("user",)
    actions = ["revoke"]
    # key_hash is in no list, form or filter.

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "scope"]
        return ["user", "name", "scope", "key_start", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["user", "key_start", "created_at", "last_used_at", "revoked_at"]

    @admin.display(description=_("Key starts"), ordering="prefix")
    def key_start(self, obj: ApiToken) -> str:
        return f"sbk_{obj.prefix}_…" if obj and obj.prefix else "—"

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            gettext("%(count)s token(s) revoked: their keys no longer work.") % {"count": count},
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            request._api_token_key = token_key_assign(obj)
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        """The key on the answer to the form itself (not in a message, which is kept in a cookie)."""
        key = getattr(request, "_api_token_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("API token made"),
            "opts": self.model._meta,
            "token": obj,
            "key": key,
        }
        response = TemplateResponse(request, "admin/api/apitoken/made.html", context)
        response["Cache-Control"] = "no-store"
        return response
