from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

from switchboard.account import language_switch

urlpatterns = [
    path("", include("switchboard.urls")),
    path("admin/", admin.site.urls),
    # The browser's catalog (gettext() in the console, dashboard and widget) for the request's language,
    # kept an hour by the browser (the pages put the language in its URL). No server-side cache: keyed by
    # the full URL, it would keep an entry for every query string a caller cares to send.
    path("jsi18n/", cache_control(max_age=3600)(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    # Django's set_language, which also keeps a logged-in user's choice (docs/i18n.md).
    path("i18n/setlang/", language_switch, name="set_language"),
    path("crm/", include("crm.urls")),
    path("supervisor/", include("supervisor.urls")),
    path("", include("routing.urls")),
    path("", include("media.urls")),
    path("gateway/", include("gateway.urls")),
    path("api/rest/v1/", include("api.urls")),
    path("", include("interface.urls")),
    path("", include("bots.urls")),
]
