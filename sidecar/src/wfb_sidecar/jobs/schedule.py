"""When a job fires: Dapr's ``schedule``, ``dueTime`` and ``ttl`` formats.

``schedule`` is a cron expression with six fields (seconds first: ``sec min hour dom
month dow``; ``*``, ``?``, lists, ranges, ``/step``, month and weekday names; when both
day fields are restricted either may match, as in Go's cron), optionally prefixed with
``TZ=<zone>`` or ``CRON_TZ=<zone>``, or a period string: ``@every <Go duration>``,
``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``,
``@hourly``. Cron fields are evaluated in the sidecar's local time, as Dapr's
scheduler uses its server's clock. ``dueTime`` and ``ttl`` are RFC 3339 timestamps, Go
durations (from the job's creation) or non-repeating ISO 8601 durations (``PT5M``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wfb_sidecar.durations import parse_go_duration


class ScheduleError(ValueError):
    pass


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (  # name, low, high, names
    ("seconds", 0, 59, {}),
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)
_PERIODS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}
_ISO_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def _value(text: str, names: dict[str, int], field: str) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        raise ScheduleError(f"invalid value {text!r} in the {field} field")
    return int(text)


def _field(text: str, low: int, high: int, names: dict[str, int], field: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"invalid step {step_text!r} in the {field} field")
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _value(first, names, field), _value(last, names, field)
        else:
            start = _value(part, names, field)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"{part!r} is outside {low}-{high} in the {field} field")
        values.update(range(start, end + 1, step))
    return values


@dataclass(frozen=True)
class Cron:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool  # day of month is * or ?
    any_weekday: bool
    zone: tzinfo | None  # None: the sidecar's local time

    def _day_matches(self, moment: datetime) -> bool:
        dom = moment.day in self.days
        dow = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, after_s: float) -> float | None:
        """The first matching second strictly after ``after_s`` (epoch seconds)."""
        if self.zone is None:
            moment = datetime.fromtimestamp(int(after_s) + 1)
        else:
            moment = datetime.fromtimestamp(int(after_s) + 1, self.zone).replace(tzinfo=None)
        limit = moment.year + 5
        while moment.year <= limit:
            if moment.month not in self.months:
                moment = (moment.replace(day=1) + timedelta(days=32)).replace(
                    day=1, hour=0, minute=0, second=0
                )
                continue
            if not self._day_matches(moment):
                moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0)
                continue
            if moment.hour not in self.hours:
                moment = (moment + timedelta(hours=1)).replace(minute=0, second=0)
                continue
            if moment.minute not in self.minutes:
                moment = (moment + timedelta(minutes=1)).replace(second=0)
                continue
            if moment.second not in self.seconds:
                moment += timedelta(seconds=1)
                continue
            if self.zone is None:
                return time.mktime(moment.timetuple())
            return moment.replace(tzinfo=self.zone).timestamp()
        return None


@dataclass(frozen=True)
class Every:
    interval_s: float


Schedule = Cron | Every


def parse_schedule(text: str) -> Schedule:
    spec = text.strip()
    if not spec:
        raise ScheduleError("schedule is empty")
    if spec.startswith("@every"):
        rest = spec.removeprefix("@every").strip()
        try:
            interval = parse_go_duration(rest)
        except ValueError as exc:
            raise ScheduleError(f"invalid @every duration: {exc}") from None
        if interval <= 0:
            raise ScheduleError("@every needs a positive duration")
        return Every(interval)
    zone: tzinfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, spec = spec.partition(" ")
        try:
            zone = ZoneInfo(prefix.split("=", 1)[1])
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown time zone in {prefix!r}") from None
        spec = spec.strip()
    if spec.startswith("@"):
        if spec not in _PERIODS:
            raise ScheduleError(f"unknown period {spec!r}")
        spec = _PERIODS[spec]
    parts = spec.split()
    if len(parts) != 6:
        raise ScheduleError(
            f"cron expression {text!r} must have 6 fields (seconds minutes hours "
            f"day-of-month month day-of-week), got {len(parts)}"
        )
    sets = [
        frozenset(_field(part, low, high, names, name))
        for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    return Cron(
        seconds=sets[0],
        minutes=sets[1],
        hours=sets[2],
        days=sets[3],
        months=sets[4],
        weekdays=sets[5],
        any_day=parts[3] in ("*", "?"),
        any_weekday=parts[5] in ("*", "?"),
        zone=zone,
    )


def parse_point_in_time(text: str, now_s: float, what: str) -> float:
    """An RFC 3339 timestamp, a Go duration or an ISO 8601 duration -> epoch seconds."""
    value = text.strip()
    if not value:
        raise ScheduleError(f"{what} is empty")
    try:
        return now_s + parse_go_duration(value)
    except ValueError:
        pass
    match = _ISO_DURATION.match(value)
    if match and value not in ("P", "PT") and not value.endswith("T"):
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        seconds = (
            parts.get("y", 0) * 365 * 86400
            + parts.get("mo", 0) * 30 * 86400
            + parts.get("w", 0) * 7 * 86400
            + parts.get("d", 0) * 86400
            + parts.get("h", 0) * 3600
            + parts.get("mi", 0) * 60
            + parts.get("s", 0)
        )
        return now_s + seconds
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ScheduleError(
            f"invalid {what} {text!r}: use RFC 3339 (2025-01-02T15:04:05Z), a Go duration "
            "(90s, 1h30m) or an ISO 8601 duration (PT90S)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # no offset: the sidecar's local time, as in Dapr
    return moment.timestamp()


def rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")
