from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views

urlpatterns = [
    # First: the supervisor app's /supervisor/ replaces the interface's placeholder page of the same path.
    path("supervisor/", include("supervisor.urls")),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("crm/", include("crm.urls")),
    path("", include("routing.urls")),
    path("", include("media.urls")),
    path("gateway/", include("gateway.urls")),
    path("", include("interface.urls")),
    path("", include("bots.urls")),
]
