from __future__ import annotations

import pytest

from workflow_core.durations import DurationError, parse_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1.5h", 5400),
        (12, 12),
        ("12", 12),
        ("2 minutes", 120),
        ("1w", 604800),
    ],
)
def test_parses(text: str | int, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "-5", "5m garbage", True])
def test_rejects_with_a_hint(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)
