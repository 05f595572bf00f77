"""A text that may carry translations: plain text for every language, or a JSON object
{"en": "...", "fr": "..."} for several. The admin shows it as rows of (language, text)."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext

from bots.texts import translations_validate

# A row of a widget whose rows the admin may add to: at most this many are read from a post.
MAX_ROWS = 50


def joined_html(parts) -> str:
    """Pieces of HTML built by format_html, joined (each piece stays escaped as it was built)."""
    return format_html_join("", "{}", ((part,) for part in parts))


# --- Texts with translations --------------------------------------------------------------------------
class TranslationsWidget(forms.Widget):
    """Rows of (language, text): the first without a language is the text for every language; one more
    empty row than there are texts, to add a translation."""

    def __init__(self, attrs=None, *, rows: int = 2, single_line: bool = False):
        super().__init__(attrs)
        self.text_rows = rows
        self.single_line = single_line

    @staticmethod
    def _as_rows(value) -> list[tuple[str, str]]:
        if isinstance(value, dict):
            return [(str(k), str(v)) for k, v in value.items()]
        text = "" if value is None else str(value)
        if text.strip().startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                return [("", text)]
            if isinstance(parsed, dict):
                return [(str(k), str(v)) for k, v in parsed.items()]
        return [("", text)] if text else []

    def render(self, name, value, attrs=None, renderer=None):
        rows = [*self._as_rows(value), ("", "")]
        element_id = (attrs or {}).get("id") or self.attrs.get("id") or f"id_{name}"
        html = []
        for index, (language, text) in enumerate(rows):
            text_id = element_id if index == 0 else f"{element_id}__{index}"
            if self.single_line:
                text_input = format_html(
                    '<input type="text" name="{}__text_{}" id="{}" value="{}" size="24">', name, index, text_id, text
                )
            else:
                text_input = format_html(
                    '<textarea name="{}__text_{}" id="{}" rows="{}" cols="60">{}</textarea>',
                    name,
                    index,
                    text_id,
                    self.text_rows,
                    text,
                )
            html.append(
                format_html(
                    '<div class="translation-row"><input type="text" name="{}__lang_{}" value="{}" size="7" '
                    'placeholder="{}" aria-label="{}" class="translation-language"> {}</div>',
                    name,
                    index,
                    language,
                    gettext("all"),
                    gettext("Language (empty: every language)"),
                    text_input,
                )
            )
        return format_html('<div class="translations" data-name="{}">{}</div>', name, joined_html(html))

    def value_from_datadict(self, data, files, name):
        if name in data:
            return data.get(name)
        pairs = []
        for index in range(MAX_ROWS):
            if f"{name}__text_{index}" not in data and f"{name}__lang_{index}" not in data:
                break
            text = (data.get(f"{name}__text_{index}") or "").strip()
            language = (data.get(f"{name}__lang_{index}") or "").strip()
            if text:
                pairs.append((language, text))
        if not pairs:
            return ""
        if len(pairs) == 1 and not pairs[0][0]:
            return pairs[0][1]
        return json.dumps(dict(pairs), ensure_ascii=False)

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}__text_0" not in data

    def id_for_label(self, id_):
        return id_


class TranslatedTextFormField(forms.CharField):
    widget = TranslationsWidget

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
            if isinstance(parsed, dict) and "" in parsed:
                raise ValidationError(
                    gettext("Give each translation its language (en, fr, zh-Hans...): only a text alone may have none.")
                )
            try:
                translations_validate(parsed)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
            return parsed
        return text

    def has_changed(self, initial, data):
        try:
            return self.prepare_value(initial) != self.prepare_value(self.to_python(data))
        except ValidationError:
            return True  # an invalid text is a change: the form shows why


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
