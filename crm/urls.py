from django.urls import path

from crm import views

app_name = "crm"
urlpatterns = [
    path("contacts/", views.contact_list, name="contact_list"),
    path("contacts/<int:contact_id>/", views.contact_detail, name="contact_detail"),
    path("contacts/<int:contact_id>/notes/", views.note_add, name="note_add"),
]
