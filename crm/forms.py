from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.models import Company, Contact


class _ListField(forms.CharField):
    """One value a line (or comma separated) <-> a JSON list."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        value = super().to_python(value) or ""
        return [part.strip() for part in value.replace(",", "\n").splitlines() if part.strip()]


class ContactForm(forms.ModelForm):
    emails = _ListField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Emails"), help_text=_("One a line.")
    )
    phones = _ListField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Phones"), help_text=_("One a line.")
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Comma separated."))
    company = forms.ModelChoiceField(label=_("Company"), queryset=Company.objects.all(), required=False)

    class Meta:
        model = Contact
        fields = ("name", "emails", "phones", "language", "timezone", "company")
        labels = {"name": pgettext_lazy("a person's", "Name")}

    def clean_emails(self):
        emails = self.cleaned_data["emails"]
        validator = forms.EmailField()
        for email in emails:
            validator.clean(email)
        return emails


class NoteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("Add a note…")}), max_length=10000)
