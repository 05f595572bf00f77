"""Admin forms of the bots: typed fields instead of raw JSON.

* TranslationsWidget: a text and its translations as rows of (language, text); what it posts becomes the
  plain text or the {language: text} object bots.fields.TranslatedTextFormField stores. A post carrying
  the field's own name (plain text or JSON, as scripts and older tests send) is taken as it is.
* FlowStepForm: one form per step, the fields of its kind checked and the others emptied; a question's
  options as rows (label with translations, value, queue, skills, next step).
* BusinessHoursForm: the weekly hours as a grid (a row per weekday, up to SPANS_PER_DAY opening spans),
  the queues that follow the schedule, and the checks: both times of a span, no two spans overlapping
  across the week (a span closing at or before it opens ends the next day, as bots/hours.py reads it).
"""

from __future__ import annotations

import json
from datetime import time

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bots import engine, hours
from bots.fields import MAX_ROWS, TranslatedTextFormField, TranslationsWidget, joined_html
from bots.models import BotFlow, BusinessHours, FlowStep, StepKind, Weekday, WeeklyHours
from bots.texts import text_pick
from routing import services as routing_services
from routing.models import Queue, Skill

# Opening spans a day in the weekly grid (a lunch break needs two).
SPANS_PER_DAY = 3


# --- Skills and options -------------------------------------------------------------------------------
def _skill_names(value) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = (value or "").strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise ValidationError(_("Write skill names separated by commas.")) from None
        return _skill_names(parsed if isinstance(parsed, list) else [])
    return [part.strip() for part in text.split(",") if part.strip()]


def skills_check(names: list[str]) -> list[str]:
    known = set(Skill.objects.filter(name__in=names).values_list("name", flat=True))
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValidationError(
            _("Unknown skill(s): %(names)s. Add them under Routing → Skills first."),
            params={"names": ", ".join(unknown)},
        )
    if len(names) > routing_services.MAX_SKILLS:
        raise ValidationError(_("At most %(count)s skills."), params={"count": routing_services.MAX_SKILLS})
    return list(dict.fromkeys(names))


class SkillsField(forms.CharField):
    """Skill names, comma-separated; each must be a routing skill."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 30, "placeholder": "billing, vip"}))
        kwargs.setdefault("help_text", _("Skill names, separated by commas (Routing → Skills)."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        return _skill_names(value)

    def validate(self, value):
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")

    def clean(self, value):
        return skills_check(super().clean(value))

    def has_changed(self, initial, data):
        try:
            return list(initial or []) != _skill_names(data)
        except ValidationError:
            return True


OPTION_PARTS = ("value", "queue", "skills", "next")


class OptionsWidget(forms.Widget):
    """A question's options as rows: label (with translations), value, queue, skills, next step."""

    def _queue_choices(self) -> list[tuple[str, str]]:
        return [("", "—")] + [(str(pk), name) for pk, name in Queue.objects.values_list("pk", "name")]

    def render(self, name, value, attrs=None, renderer=None):
        options = value if isinstance(value, list) else self._parse(value)
        rows = [o for o in options if isinstance(o, dict)] + [{}, {}]
        queues = self._queue_choices()
        by_name = {label.lower(): pk for pk, label in queues if pk}
        label_widget = TranslationsWidget(single_line=True)
        head = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            gettext("Label"),
            gettext("Value"),
            gettext("Queue"),
            gettext("Skills"),
            gettext("Next step"),
        )
        body = []
        for index, option in enumerate(rows):
            prefix = f"{name}__{index}"
            queue = option.get("queue_id", option.get("queue"))
            queue = str(queue) if queue not in (None, "") else ""
            if queue and not queue.isdigit():
                queue = by_name.get(queue.lower(), "")
            select = joined_html(
                format_html('<option value="{}" selected>{}</option>', pk, label)
                if pk == queue
                else format_html('<option value="{}">{}</option>', pk, label)
                for pk, label in queues
            )
            skills = option.get("skills") or []
            body.append(
                format_html(
                    '<tr class="option-row"><td>{}</td>'
                    '<td><input type="text" name="{}__value" value="{}" size="8"></td>'
                    '<td><select name="{}__queue">{}</select></td>'
                    '<td><input type="text" name="{}__skills" value="{}" size="14"></td>'
                    '<td><input type="text" name="{}__next" value="{}" size="12" list="flow-step-keys"'
                    ' class="step-key-ref"></td></tr>',
                    label_widget.render(f"{prefix}__label", option.get("label") or "", {"id": f"id_{prefix}_label"}),
                    prefix,
                    option.get("value") or "",
                    prefix,
                    select,
                    prefix,
                    ", ".join(str(s) for s in skills) if isinstance(skills, list) else skills,
                    prefix,
                    option.get("next") or "",
                )
            )
        return format_html(
            '<table class="flow-options" id="{}"><thead>{}</thead><tbody>{}</tbody></table>'
            '<input type="hidden" name="{}__rows" value="{}">',
            (attrs or {}).get("id", f"id_{name}"),
            head,
            joined_html(body),
            name,
            len(rows),
        )

    @staticmethod
    def _parse(value) -> list:
        if isinstance(value, list):
            return value
        try:
            parsed = json.loads(value or "[]")
        except (TypeError, json.JSONDecodeError):
            return []
        return parsed if isinstance(parsed, list) else []

    def value_from_datadict(self, data, files, name):
        if name in data:
            return data.get(name)
        label_widget = TranslationsWidget()
        try:
            count = min(int(data.get(f"{name}__rows") or 0), MAX_ROWS)
        except ValueError:
            count = 0
        rows = []
        for index in range(count):
            prefix = f"{name}__{index}"
            row = {"label": label_widget.value_from_datadict(data, files, f"{prefix}__label")}
            for part in OPTION_PARTS:
                row[part] = (data.get(f"{prefix}__{part}") or "").strip()
            rows.append(row)
        return rows

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}__rows" not in data


class OptionsField(forms.Field):
    widget = OptionsWidget

    def to_python(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value or "[]")
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    _("Options must be a JSON list: %(reason)s."), params={"reason": exc.msg}
                ) from None
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise ValidationError(_("Options must be a list of objects."))
        label_field = TranslatedTextFormField(required=False)
        queue_ids = set(Queue.objects.values_list("pk", flat=True))
        queue_names = {name.lower() for name in Queue.objects.values_list("name", flat=True)}
        options = []
        for number, row in enumerate(value, start=1):
            label = row.get("label")
            label = label if isinstance(label, dict) else label_field.clean(label or "")
            filled = [row.get(part) for part in OPTION_PARTS if row.get(part) not in (None, "", [])]
            if not label and not filled:
                continue  # an empty row
            if not text_pick(label, None):
                raise ValidationError(_("Option %(number)s needs a label."), params={"number": number})
            option: dict = {"label": label}
            if row.get("value"):
                option["value"] = str(row["value"])
            queue = row.get("queue_id", row.get("queue"))
            if queue not in (None, ""):
                if str(queue).isdigit():
                    if int(queue) not in queue_ids:
                        raise ValidationError(_("Option %(number)s: no such queue."), params={"number": number})
                    option["queue"] = int(queue)
                elif str(queue).strip().lower() in queue_names:
                    option["queue"] = str(queue).strip()
                else:
                    raise ValidationError(
                        _("Option %(number)s: no queue named %(name)s."), params={"number": number, "name": queue}
                    )
            skills = skills_check(_skill_names(row.get("skills") or []))
            if skills:
                option["skills"] = skills
            if row.get("next"):
                option["next"] = str(row["next"]).strip()
            options.append(option)
        return options

    def has_changed(self, initial, data):
        try:
            return (initial or []) != self.to_python(data)
        except ValidationError:
            return True


# --- Flow steps -----------------------------------------------------------------------------------------
# The fields each step kind uses; the form empties the others so what is stored is what runs.
KIND_FIELDS = {
    StepKind.MESSAGE: {"text", "next_step"},
    StepKind.QUESTION: {"text", "options", "invalid_text"},
    StepKind.CAPTURE: {"text", "capture_field", "invalid_text", "next_step"},
    StepKind.HANDOVER: {"text", "queue", "skills"},
    StepKind.END: {"text"},
}
KIND_OPTIONAL = ("text", "options", "capture_field", "invalid_text", "queue", "skills", "next_step")
EMPTY = {
    "text": "",
    "options": [],
    "capture_field": "",
    "invalid_text": "",
    "queue": None,
    "skills": [],
    "next_step": "",
}


class FlowStepForm(forms.ModelForm):
    options = OptionsField(
        required=False,
        label=_("Options"),
        help_text=_(
            "Questions: one row per answer. The queue and skills route the hand-over; the next step "
            "(a step's key) follows this answer (empty: the step after the question)."
        ),
    )
    skills = SkillsField(label=_("Skills"))

    class Meta:
        model = FlowStep
        fields = [
            "position",
            "key",
            "kind",
            "text",
            "options",
            "capture_field",
            "invalid_text",
            "queue",
            "skills",
            "next_step",
        ]
        widgets = {
            "kind": forms.Select(attrs={"class": "flow-step-kind"}),
            "key": forms.TextInput(attrs={"class": "flow-step-key", "size": 16}),
            "position": forms.NumberInput(attrs={"class": "flow-step-position"}),
            "next_step": forms.TextInput(attrs={"list": "flow-step-keys", "class": "step-key-ref", "size": 16}),
        }

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind not in KIND_FIELDS:
            return data
        used = KIND_FIELDS[kind]
        for name in KIND_OPTIONAL:
            if name not in used and name in data:
                data[name] = EMPTY[name]
        if kind in (StepKind.MESSAGE, StepKind.QUESTION, StepKind.CAPTURE) and not text_pick(data.get("text"), None):
            self.add_error("text", gettext("Write the text the customer sees."))
        if kind == StepKind.QUESTION and not data.get("options") and "options" not in self.errors:
            self.add_error("options", gettext("A question needs at least one option."))
        if kind == StepKind.CAPTURE and not data.get("capture_field"):
            self.add_error("capture_field", gettext("Choose the contact field the answer goes into."))
        return data


class FlowStepFormSet(forms.BaseInlineFormSet):
    """Checks the whole flow as it will run, with the engine's own rules (bots.engine.flow_validate: keys,
    jumps, options, every step reached and every branch ending), before anything is saved."""

    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        try:
            engine.flow_validate({"steps": self.steps_spec()})
        except engine.FlowError as exc:
            raise ValidationError(str(exc)) from None

    def steps_spec(self) -> list[dict]:
        steps = []
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE"):
                continue
            steps.append(
                {
                    "position": data.get("position") or 0,
                    "key": data.get("key"),
                    "kind": data.get("kind"),
                    "text": data.get("text"),
                    "next": data.get("next_step") or "",
                    "options": data.get("options") or [],
                    "field": data.get("capture_field") or "",
                }
            )
        steps.sort(key=lambda step: step["position"])
        return steps


class BotFlowForm(forms.ModelForm):
    class Meta:
        model = BotFlow
        exclude: list[str] = []

    def clean_after_hours_priority(self):
        value = self.cleaned_data["after_hours_priority"]
        if not -100 <= value <= 100:
            raise ValidationError(gettext("Use a priority from -100 to 100 (higher is served first)."))
        return value

    def clean(self):
        data = super().clean()
        reminder, close = data.get("idle_reminder_after_s"), data.get("idle_close_after_s")
        if close and not reminder:
            self.add_error("idle_close_after_s", gettext("Closing after the reminder needs a reminder."))
        return data


# --- Business hours -------------------------------------------------------------------------------------
class WeeklyGridWidget(forms.Widget):
    """Seven rows (Monday first), SPANS_PER_DAY opening and closing times in each."""

    def render(self, name, value, attrs=None, renderer=None):
        grid = value if isinstance(value, dict) else {}
        head = [format_html("<th>{}</th>", gettext("Day"))]
        for span in range(1, SPANS_PER_DAY + 1):
            head.append(format_html('<th colspan="2">{} {}</th>', gettext("Span"), span))
        rows = []
        for day, label in Weekday.choices:
            spans = list(grid.get(day) or grid.get(str(day)) or [])
            cells = []
            for index in range(SPANS_PER_DAY):
                opens, closes = spans[index] if index < len(spans) else ("", "")
                for part, shown in (("opens", opens), ("closes", closes)):
                    cells.append(
                        format_html(
                            '<td><input type="time" name="{}_{}_{}_{}" value="{}" aria-label="{} {} {}"></td>',
                            name,
                            day,
                            index,
                            part,
                            _hhmm(shown),
                            label,
                            gettext("opens") if part == "opens" else gettext("closes"),
                            index + 1,
                        )
                    )
            rows.append(format_html("<tr><th>{}</th>{}</tr>", label, joined_html(cells)))
        return format_html(
            '<table class="weekly-grid" id="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            (attrs or {}).get("id", f"id_{name}"),
            joined_html(head),
            joined_html(rows),
        )

    def value_from_datadict(self, data, files, name):
        if f"{name}_0_0_opens" not in data:
            return None
        return {
            day: [
                (
                    (data.get(f"{name}_{day}_{i}_opens") or "").strip(),
                    (data.get(f"{name}_{day}_{i}_closes") or "").strip(),
                )
                for i in range(SPANS_PER_DAY)
            ]
            for day in range(7)
        }

    def value_omitted_from_data(self, data, files, name):
        return f"{name}_0_0_opens" not in data


def _hhmm(value) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value or "")[:5]


MINUTES_A_DAY = 24 * 60
MINUTES_A_WEEK = 7 * MINUTES_A_DAY


def span_range(day_index: int, opens: time, closes: time) -> tuple[int, int]:
    """Minutes from the start of the week (or of the day, for day 0) a span covers, as bots/hours.py reads
    it: a closing at or before the opening ends the next day, 00:00-00:00 is the whole day."""
    start = day_index * MINUTES_A_DAY + opens.hour * 60 + opens.minute
    length = (closes.hour * 60 + closes.minute - opens.hour * 60 - opens.minute) % MINUTES_A_DAY or MINUTES_A_DAY
    return start, start + length


def spans_overlap_check(spans: list[tuple[str, int, int]], *, cycle: int | None = None) -> None:
    """Raise ValidationError naming the first two spans (label, start, end) that overlap; with `cycle`, the
    spans repeat every `cycle` minutes (a week: Sunday night runs into Monday)."""
    shifts = (0, cycle, -cycle) if cycle else (0,)
    for index, (name, start, end) in enumerate(spans):
        for other_index, (other, other_start, other_end) in enumerate(spans):
            if other_index <= index:
                continue
            if any(start < other_end + shift and other_start + shift < end for shift in shifts):
                raise ValidationError(_("%(first)s overlaps %(second)s."), params={"first": name, "second": other})


class WeeklyGridField(forms.Field):
    widget = WeeklyGridWidget

    def to_python(self, value):
        if not value:
            return []
        spans = []
        days = dict(Weekday.choices)
        for day, pairs in value.items():
            for opens, closes in pairs:
                if not opens and not closes:
                    continue
                if not opens or not closes:
                    raise ValidationError(
                        _("%(day)s: give both the opening and the closing time of each span."),
                        params={"day": days[int(day)]},
                    )
                try:
                    spans.append((int(day), hours.time_parse(opens), hours.time_parse(closes)))
                except hours.ScheduleError:
                    raise ValidationError(_("%(day)s: write times as HH:MM."), params={"day": days[int(day)]}) from None
        spans.sort()
        spans_overlap_check(
            [(f"{days[d]} {o:%H:%M}-{c:%H:%M}", *span_range(d, o, c)) for d, o, c in spans], cycle=MINUTES_A_WEEK
        )
        return spans


class BusinessHoursForm(forms.ModelForm):
    weekly_grid = WeeklyGridField(
        required=False,
        label=_("Weekly hours"),
        help_text=_(
            "Local times in the schedule's timezone. Up to three spans a day (a lunch break is two). A closing "
            "time at or before the opening time ends the next day; 00:00-00:00 is the whole day. An empty day "
            "is closed."
        ),
    )
    queues = forms.ModelMultipleChoiceField(
        queryset=Queue.objects.all(),
        required=False,
        label=_("Queues"),
        widget=FilteredSelectMultiple(_("queues"), is_stacked=False),
        help_text=_("Queues that follow these hours. A queue without hours follows its inbox flow's hours."),
    )

    class Meta:
        model = BusinessHours
        fields = ["name", "timezone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            grid: dict[int, list] = {}
            for span in self.instance.weekly.all():
                grid.setdefault(span.weekday, []).append((span.opens, span.closes))
            self.fields["weekly_grid"].initial = grid
            self.fields["queues"].initial = list(Queue.objects.filter(business_hours_id=self.instance.pk))

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"]
        try:
            hours.zone_get(value)
        except hours.ScheduleError:
            raise ValidationError(
                gettext("Unknown timezone %(name)s: use an IANA name such as Europe/Paris or Asia/Shanghai.")
                % {"name": repr(value)}
            ) from None
        return value

    def weekly_save(self) -> None:
        """Replace the schedule's weekly rows by the grid's spans (when the grid was posted)."""
        grid = self.fields["weekly_grid"].widget
        if grid.value_omitted_from_data(self.data, self.files, self.add_prefix("weekly_grid")):
            return
        self.instance.weekly.all().delete()
        WeeklyHours.objects.bulk_create(
            WeeklyHours(schedule=self.instance, weekday=day, opens=opens, closes=closes)
            for day, opens, closes in self.cleaned_data["weekly_grid"]
        )

    def queues_save(self) -> None:
        if "queues" in self.changed_data:
            routing_services.queue_hours_set(
                schedule_id=self.instance.pk, queue_ids=[queue.pk for queue in self.cleaned_data["queues"]]
            )


class SpecialDayFormSet(forms.BaseInlineFormSet):
    """Holidays and special days: a date is closed all day or has its own spans, never both, and its spans
    do not overlap."""

    def clean(self) -> None:
        super().clean()
        by_date: dict = {}
        for form in self.forms:
            data = form.cleaned_data
            if not data or data.get("DELETE") or not data.get("date"):
                continue
            by_date.setdefault(data["date"], []).append((data.get("opens"), data.get("closes")))
        for day, spans in sorted(by_date.items()):
            closed = [span for span in spans if span[0] is None]
            if closed and len(spans) > 1:
                raise ValidationError(
                    gettext("%(date)s is both closed all day and open at given hours: keep one.")
                    % {"date": day.isoformat()}
                )
            timed = [
                (f"{day.isoformat()} {opens:%H:%M}-{closes:%H:%M}", *span_range(0, opens, closes))
                for opens, closes in spans
                if opens is not None and closes is not None
            ]
            spans_overlap_check(timed)
