"""Go-style durations in resource files."""

from __future__ import annotations

import pytest

from wfb_sidecar.durations import DurationError, parse_go_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("500ms", 0.5),
        ("5s", 5),
        ("1m30s", 90),
        ("2h", 7200),
        ("1.5s", 1.5),
        ("250us", 0.00025),
    ],
)
def test_valid(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "-1s", "5 s", "1d", "s", "1m30", "abc"])
def test_invalid(text: str) -> None:
    with pytest.raises(DurationError):
        parse_go_duration(text)
