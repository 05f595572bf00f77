"""CRM pages for agents: the contact list and the contact record."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from crm import selectors, services
from crm.forms import ContactForm, NoteForm
from crm.hooks import ContactPanelsWanted, contact_panels
from crm.models import Contact, Tag


@login_required
@permission_required("crm.view_contact", raise_exception=True)
def contact_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:200]
    tag = request.GET.get("tag", "")[:64]
    page = Paginator(selectors.contact_search(query=query, tag=tag, user=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "crm/contact_list.html",
        {"page": page, "query": query, "tag": tag, "tags": Tag.objects.all()},
    )


def _panels(request: HttpRequest, contact: Contact) -> list[dict]:
    """Sections other apps add to the contact record (conversation history...): the answers to
    crm.hooks.contact_panels, each app deciding what this user may see."""
    answers = contact_panels.emit(ContactPanelsWanted(contact_id=contact.pk, user_id=request.user.pk))
    return [panel for panel in answers if panel]


@login_required
@permission_required("crm.view_contact", raise_exception=True)
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    try:
        contact = selectors.contact_detail(contact_id=contact_id)
    except Contact.DoesNotExist:
        raise Http404(gettext("No such contact")) from None
    form = ContactForm(instance=contact, initial={"tags": ", ".join(t.name for t in contact.tags.all())})
    if request.method == "POST":
        if not request.user.has_perm("crm.change_contact"):
            messages.error(request, gettext("You may not edit contacts."))
            return redirect(contact)
        form = ContactForm(request.POST, instance=contact)
        if form.is_valid():
            data = {field: form.cleaned_data[field] for field in ContactForm.Meta.fields}
            services.contact_update(contact=contact, data=data)
            services.contact_set_tags(contact=contact, names=form.cleaned_data["tags"].split(","))
            messages.success(request, gettext("Contact saved."))
            return redirect(contact)
    return render(
        request,
        "crm/contact_detail.html",
        {"contact": contact, "form": form, "note_form": NoteForm(), "panels": _panels(request, contact)},
    )


@login_required
@permission_required("crm.add_note", raise_exception=True)
@require_POST
def note_add(request: HttpRequest, contact_id: int) -> HttpResponse:
    try:
        contact = Contact.objects.get(pk=contact_id)
    except Contact.DoesNotExist:
        raise Http404(gettext("No such contact")) from None
    form = NoteForm(request.POST)
    if form.is_valid():
        services.note_create(contact=contact, author=request.user, body=form.cleaned_data["body"])
        messages.success(request, gettext("Note added."))
    else:
        messages.error(request, gettext("A note needs some text."))
    return redirect(contact)
