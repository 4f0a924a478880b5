"""Durations as the definition format writes them.

Timer nodes accept ``durationSeconds`` / ``durationMinutes`` / ``durationHours`` (seed 003),
the builder's ``duration`` + ``durationUnit``, and compact strings such as ``"500ms"``,
``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` (seed 004 §3.4).
"""

from __future__ import annotations

import re
from datetime import timedelta

UNIT_SECONDS: dict[str, float] = {
    "ms": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)")
_WHOLE = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[a-zA-Z]+\s*)+$")


class DurationError(ValueError):
    pass


def parse_duration(text: str | float | int) -> timedelta:
    """``"1h30m"`` -> 5400 s; a bare number is seconds."""
    if isinstance(text, bool):
        raise DurationError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"duration must not be negative: {text!r}")
        return timedelta(seconds=text)
    stripped = text.strip()
    try:
        return parse_duration(float(stripped))
    except ValueError:
        pass
    if not _WHOLE.match(stripped):
        raise DurationError(f"not a duration: {text!r} (use e.g. '30s', '5m', '2h', '1d', '1h30m')")
    total = 0.0
    for amount, unit in _PART.findall(stripped):
        factor = UNIT_SECONDS.get(unit.lower())
        if factor is None:
            raise DurationError(
                f"unknown duration unit {unit!r} in {text!r}; known units: ms, s, m, h, d, w"
            )
        total += float(amount) * factor
    return timedelta(seconds=total)


def unit_seconds(unit: str) -> float:
    factor = UNIT_SECONDS.get(unit.strip().lower())
    if factor is None:
        raise DurationError(f"unknown duration unit {unit!r}; use seconds, minutes, hours or days")
    return factor
