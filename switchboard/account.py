"""The user's account page (`/account/`): who they are, and their API tokens (docs/api.md): a list, a form
that makes one and shows its key this once, and a revoke button for each."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from api.models import ApiToken
from api.permissions import may_use_api
from api.tokens import token_create, token_revoke


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. the order system.")
    scope = forms.ChoiceField(choices=ApiToken.SCOPES, initial=ApiToken.READ)


def _page(request: HttpRequest, *, form: TokenForm, new_key: str = "", new_token=None, status: int = 200):
    return render(
        request,
        "switchboard/account.html",
        {
            "may_use_api": may_use_api(request.user),
            "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id"),
            "form": form,
            "new_key": new_key,
            "new_token": new_token,
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return _page(request, form=TokenForm())


@never_cache
@login_required
@require_POST
def token_make(request: HttpRequest) -> HttpResponse:
    """Made: the page again, with the key in this answer only (never in a redirect, a cookie or the
    session). Cache-Control: no-store keeps it out of the browser's cache."""
    if not may_use_api(request.user):
        messages.error(request, "Your role cannot use the API.")
        return redirect("account")
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    token, key = token_create(user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"])
    return _page(request, form=TokenForm(), new_key=key, new_token=token)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token_revoke(token=token)
    messages.success(request, f"The token “{token.name}” is revoked: its key no longer works.")
    return redirect("account")
