"""The project-wide pages. Every app's pages are under their own paths (config/urls.py); none of them
answers a path another already answers (tests/switchboard/test_urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from switchboard import account, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz_live"),
    path("healthz/ready", views.healthz_ready, name="healthz_ready"),
    path("metrics", views.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account.account, name="account"),
    path("account/preferences", account.preferences_save, name="account_preferences"),
    path("account/tokens", account.token_make, name="account_token_make"),
    path("account/tokens/<int:token_id>/revoke", account.token_revoke_view, name="account_token_revoke"),
]
