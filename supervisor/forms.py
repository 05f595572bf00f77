"""The report and staffing filters: bad input gets a clear error and no query runs."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

MAX_DAYS = {"day": 366, "hour": 31}


class ReportFilterForm(forms.Form):
    start = forms.DateField(required=False, help_text="First day (inclusive).")
    end = forms.DateField(required=False, help_text="Last day (inclusive).")
    period = forms.ChoiceField(choices=[("day", "By day"), ("hour", "By hour")], required=False)
    dimension = forms.ChoiceField(choices=[("queue", "Per queue"), ("agent", "Per agent")], required=False)
    queue = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, queues: list[dict], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", "All my queues")] + [(q["id"], q["name"]) for q in queues]

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        data["period"] = data.get("period") or "day"
        data["dimension"] = data.get("dimension") or "queue"
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=6)
        if start > end:
            raise forms.ValidationError("The first day comes after the last day.")
        if (end - start).days + 1 > MAX_DAYS[data["period"]]:
            raise forms.ValidationError(
                f"At most {MAX_DAYS[data['period']]} days {'by hour' if data['period'] == 'hour' else 'at once'}."
            )
        data["start"], data["end"] = start, end
        tz = timezone.get_current_timezone()
        data["start_at"] = datetime.combine(start, time.min, tzinfo=tz)
        data["end_at"] = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
        return data


class StaffingFilterForm(forms.Form):
    weeks = forms.IntegerField(min_value=1, max_value=12, required=False)
    weekday = forms.TypedChoiceField(
        coerce=int,
        required=False,
        empty_value=None,
        choices=[
            ("", "Today"),
            *enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"], start=1),
        ],
    )

    def clean(self):
        data = super().clean()
        data["weeks"] = data.get("weeks") or 4
        return data
