"""The user's account page (`/account/`): who they are, their language and timezone (docs/i18n.md), and
their API tokens (docs/api.md): a list, a form that makes one and shows its key this once, and a revoke
button for each. Also the header's language switcher (`/i18n/setlang/`)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language

from api.models import ApiToken
from api.permissions import may_use_api
from api.tokens import token_create, token_revoke
from switchboard.models import StaffPreference
from switchboard.preferences import language_set, preference_get


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the key is for, e.g. the order system."))
    scope = forms.ChoiceField(label=_("Scope"), choices=ApiToken.SCOPES, initial=ApiToken.READ)


class PreferenceForm(forms.ModelForm):
    class Meta:
        model = StaffPreference
        fields = ("language", "timezone")


def _page(
    request: HttpRequest,
    *,
    form: TokenForm | None = None,
    preference_form: PreferenceForm | None = None,
    new_key: str = "",
    new_token=None,
    status: int = 200,
):
    return render(
        request,
        "switchboard/account.html",
        {
            "may_use_api": may_use_api(request.user),
            "tokens": ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id"),
            "form": form or TokenForm(),
            "preference_form": preference_form or PreferenceForm(instance=preference_get(user=request.user)),
            "new_key": new_key,
            "new_token": new_token,
        },
        status=status,
    )


@never_cache
@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@login_required
@require_POST
def preferences_save(request: HttpRequest) -> HttpResponse:
    form = PreferenceForm(request.POST, instance=preference_get(user=request.user))
    if not form.is_valid():
        return _page(request, preference_form=form, status=400)
    preference = form.save(commit=False)
    preference.user = request.user
    preference.save()
    response = redirect("account")
    # The language cookie follows, so the log-in page after a log-out speaks it too.
    if preference.language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, preference.language, samesite="Lax")
        translation.activate(preference.language)
    messages.success(request, gettext("Your preferences are saved."))
    return response


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The header's switcher: Django's set_language (the cookie, the redirect to `next`), and for a
    logged-in user the choice kept in their preferences, so it follows them to another browser."""
    response = set_language(request)
    language_set(user=request.user, language=request.POST.get("language", ""))
    return response


@never_cache
@login_required
@require_POST
def token_make(request: HttpRequest) -> HttpResponse:
    """Made: the page again, with the key in this answer only (never in a redirect, a cookie or the
    session). Cache-Control: no-store keeps it out of the browser's cache."""
    if not may_use_api(request.user):
        messages.error(request, gettext("Your role cannot use the API."))
        return redirect("account")
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    token, key = token_create(user=request.user, name=form.cleaned_data["name"], scope=form.cleaned_data["scope"])
    return _page(request, new_key=key, new_token=token)


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token_revoke(token=token)
    messages.success(
        request, gettext("The token “%(name)s” is revoked: its key no longer works.") % {"name": token.name}
    )
    return redirect("account")
