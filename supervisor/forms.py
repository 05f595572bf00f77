"""The report and staffing filters: bad input gets a clear error and no query runs."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MAX_DAYS = {"day": 366, "hour": 31}


class ReportFilterForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, help_text=_("First day (inclusive)."))
    end = forms.DateField(label=_("To"), required=False, help_text=_("Last day (inclusive)."))
    period = forms.ChoiceField(
        label=_("Period"), choices=[("day", _("By day")), ("hour", _("By hour"))], required=False
    )
    dimension = forms.ChoiceField(
        label=_("Rows"),
        choices=[
            ("queue", _("Per queue")),
            ("agent", _("Per agent")),
            ("label", _("Per label")),
            ("close_reason", _("Per close reason")),
        ],
        required=False,
    )
    queue = forms.TypedChoiceField(label=_("Queue"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, queues: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", _("All my queues"))] + [(q["id"], q["name"]) for q in queues]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["period"] = data.get("period") or "day"
        data["dimension"] = data.get("dimension") or "queue"
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=6)
        if start > end:
            raise forms.ValidationError(gettext("The first day comes after the last day."))
        if (end - start).days + 1 > MAX_DAYS[data["period"]]:
            days = MAX_DAYS[data["period"]]
            raise forms.ValidationError(
                gettext("At most %(days)d days by hour.") % {"days": days}
                if data["period"] == "hour"
                else gettext("At most %(days)d days at once.") % {"days": days}
            )
        data["start"], data["end"] = start, end
        tz = timezone.get_current_timezone()
        data["start_at"] = datetime.combine(start, time.min, tzinfo=tz)
        data["end_at"] = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
        return data


class StaffingFilterForm(forms.Form):
    weeks = forms.IntegerField(label=_("Weeks of history"), min_value=1, max_value=12, required=False)
    weekday = forms.TypedChoiceField(
        label=_("Day"),
        coerce=int,
        required=False,
        empty_value=None,
        choices=[
            ("", _("Today")),
            *enumerate(
                [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")],
                start=1,
            ),
        ],
    )

    def clean(self):
        data = super().clean()
        data["weeks"] = data.get("weeks") or 4
        return data
