from django.urls import path

from gateway import views

app_name = "gateway"
urlpatterns = [
    path("<slug:kind>/<slug:inbox_key>/", views.webhook, name="webhook"),
]
