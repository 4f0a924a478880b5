"""Schedule math: the occurrences of a cron expression in a time zone, or of a fixed
interval counted from an anchor. Dapr's own cron has no time zones and no policy for
missed occurrences, so admin-api computes every occurrence and schedules one one-shot
job at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from workflow_core.nodes import TriggerConfig

MAX_COUNTED = 100_000
"""Counting missed occurrences stops here (a per-second cron down for days)."""


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not schedule instants")
    return moment.astimezone(UTC)


def occurrences_after(
    config: TriggerConfig, after: datetime, anchor: datetime
) -> Iterator[datetime]:
    """Occurrences strictly after ``after``, in order, as UTC datetimes."""
    after = _aware(after)
    if config.interval_seconds:
        step = timedelta(seconds=config.interval_seconds)
        base = _aware(anchor)
        k = 0 if after < base else math.floor((after - base) / step) + 1
        while True:
            moment = base + k * step
            if moment > after:
                yield moment
            k += 1
    if not config.cron:
        raise ValueError("not a schedule trigger")
    zone = ZoneInfo(config.timezone)
    it = croniter(config.cron, after.astimezone(zone))
    while True:
        moment = it.get_next(datetime)
        yield _aware(moment)


def next_occurrence(config: TriggerConfig, after: datetime, anchor: datetime) -> datetime:
    return next(occurrences_after(config, after, anchor))


def count_between(config: TriggerConfig, first: datetime, until: datetime, anchor: datetime) -> int:
    """How many occurrences lie in ``[first, until]`` (``first`` itself is one)."""
    count = 1
    for moment in occurrences_after(config, first, anchor):
        if moment > until or count >= MAX_COUNTED:
            break
        count += 1
    return count


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` (what Dapr's ``dueTime`` takes)."""
    text = _aware(moment).isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return _aware(moment)


def same_schedule(old: dict[str, object], new: dict[str, object]) -> bool:
    """Whether two trigger configs describe the same occurrences."""
    return (
        old.get("cron") == new.get("cron")
        and old.get("intervalSeconds") == new.get("intervalSeconds")
        and old.get("timezone", "UTC") == new.get("timezone", "UTC")
    )
