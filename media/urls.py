from django.urls import path

from media import views

app_name = "media"
urlpatterns = [
    # No listing and no id in the path: the signed token is the only way to a file.
    path("media/v1/files/<str:token>", views.attachment_file, name="attachment_file"),
]
