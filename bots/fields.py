"""A text that may carry translations: plain text in the admin for one language, or a JSON object
{"en": "...", "fr": "..."} for several."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from bots.texts import translations_validate


class TranslatedTextFormField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 2, "cols": 80})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False, indent=1)
        return "" if value is None else value

    def to_python(self, value):
        value = super().to_python(value)
        text = (value or "").strip()
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"Translations must be a JSON object: {exc.msg}.") from None
            try:
                translations_validate(parsed)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            return parsed
        return text

    def has_changed(self, initial, data):
        return self.prepare_value(initial) != self.prepare_value(self.to_python(data))


class TranslatedTextField(models.JSONField):
    """Stored as JSON: a string, or a {language: text} object. Empty means "use the default text"."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", str)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def formfield(self, **kwargs):
        defaults = {"form_class": TranslatedTextFormField, "required": not self.blank}
        defaults.update(kwargs)
        defaults.pop("encoder", None)
        defaults.pop("decoder", None)
        return models.Field.formfield(self, **defaults)

    def validate(self, value, model_instance):
        super().validate(value, model_instance)
        try:
            translations_validate(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
