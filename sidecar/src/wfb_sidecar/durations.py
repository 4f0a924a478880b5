"""Durations as Dapr resource files write them: Go's ``time.ParseDuration`` format."""

from __future__ import annotations

import re

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    pass


def parse_go_duration(text: str) -> float:
    """``"1m30s"`` -> 90.0 seconds; ``"500ms"`` -> 0.5. Negative durations are refused."""
    value = text.strip()
    if value in ("0", "+0"):
        return 0.0
    if value.startswith("-"):
        raise DurationError(f"duration must not be negative: {text!r}")
    value = value.removeprefix("+")
    total = 0.0
    position = 0
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(value) or not value:
        raise DurationError(
            f"invalid duration {text!r}: use Go's format, e.g. '500ms', '5s', '1m30s', '2h'"
        )
    return total
