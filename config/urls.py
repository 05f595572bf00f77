from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("switchboard.urls")),
    path("admin/", admin.site.urls),
    path("crm/", include("crm.urls")),
    path("supervisor/", include("supervisor.urls")),
    path("", include("routing.urls")),
    path("", include("media.urls")),
    path("gateway/", include("gateway.urls")),
    path("api/rest/v1/", include("api.urls")),
    path("", include("interface.urls")),
    path("", include("bots.urls")),
]
