"""The shared pieces of the integrations: retry hints, error messages, scrubbing, forms."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest

from function_runner.builtins.base import FunctionError
from function_runner.integrations._common import (
    api_message,
    retry_after,
    scrub,
    status_code_error,
    string_list,
)
from function_runner.integrations.stripe import form

pytestmark = pytest.mark.unit
NOW = 1_800_000_000.0


class TestRetryAfter:
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ({"Retry-After": "30"}, 30.0),
            ({"retry-after": "1.5"}, 1.5),
            ({"Retry-After": email.utils.formatdate(NOW + 120, usegmt=True)}, 120.0),
            ({"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "1s"}, 360.0),
            ({"x-ratelimit-reset-requests": "20ms"}, 0.02),
            ({"ratelimit-reset": "4"}, 4.0),
            ({"x-ratelimit-reset": str(int(NOW) + 90)}, 90.0),
            ({"X-RateLimit-Requests-Reset": str(int(NOW * 1000) + 5000)}, 5.0),
            ({"x-ratelimit-reset": str(int(NOW) - 10)}, 0.0),
            ({}, None),
            ({"Retry-After": "soon"}, None),
        ],
    )
    def test_headers(self, headers: dict[str, str], expected: float | None) -> None:
        value = retry_after(headers, now=NOW)
        if expected is None:
            assert value is None
        else:
            assert value == pytest.approx(expected, abs=1.0)

    def test_retry_after_wins_over_reset_headers(self) -> None:
        assert (
            retry_after({"Retry-After": "3", "x-ratelimit-reset": str(int(NOW) + 600)}, now=NOW)
            == 3.0
        )


class TestMessages:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                {"error": {"message": "Invalid model", "type": "invalid_request_error"}},
                "Invalid model",
            ),
            (
                {"error": "invalid_grant", "error_description": "Token expired"},
                "invalid_grant: Token expired",
            ),
            (
                {"success": False, "error": "Unauthorized: Invalid token"},
                "Unauthorized: Invalid token",
            ),
            ({"errors": [{"message": "short", "long_message": "The long one"}]}, "The long one"),
            (
                {"message": "Validation Failed", "errors": [{"field": "title", "code": "missing"}]},
                "Validation Failed: title missing",
            ),
            (
                {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]},
                "body.prompt: field required",
            ),
            ({"detail": "Not authenticated"}, "Not authenticated"),
            (
                {"statusCode": 422, "name": "validation_error", "message": "Invalid `to` field."},
                "Invalid `to` field.",
            ),
            ("plain text error", "plain text error"),
            ({"unexpected": True}, None),
        ],
    )
    def test_api_message(self, body: Any, message: str | None) -> None:
        assert api_message(body) == message

    @pytest.mark.parametrize(
        ("status", "code", "retryable"),
        [
            (400, "validation", False),
            (401, "auth", False),
            (402, "validation", False),
            (403, "forbidden", False),
            (404, "not_found", False),
            (409, "conflict", False),
            (422, "validation", False),
            (429, "rate_limited", True),
            (500, "upstream", True),
            (503, "upstream", True),
        ],
    )
    def test_status_codes(self, status: int, code: str, retryable: bool) -> None:
        assert status_code_error(status) == (code, retryable)


class _Ctx:
    credentials = {"apiKey": "sk-very-secret", "short": "ab"}


def test_scrub_removes_echoed_credentials() -> None:
    error = FunctionError(
        "Incorrect API key provided: sk-very-secret",
        details={"error": {"message": "key sk-very-secret"}},
    )
    scrubbed = scrub(error, _Ctx())  # type: ignore[arg-type]
    assert scrubbed.message == "Incorrect API key provided: ***"
    assert str(scrubbed) == "Incorrect API key provided: ***"
    assert scrubbed.details == {"error": {"message": "key ***"}}


def test_stripe_form_encoding() -> None:
    assert form(
        {
            "email": "a@b.c",
            "metadata": {"plan": "pro", "n": 3},
            "flag": True,
            "none": None,
            "tags": ["x", "y"],
        }
    ) == {
        "email": "a@b.c",
        "metadata[plan]": "pro",
        "metadata[n]": "3",
        "flag": "true",
        "tags[0]": "x",
        "tags[1]": "y",
    }


def test_string_list() -> None:
    assert string_list("a, b,,c ") == ["a", "b", "c"]
    assert string_list(["a", 1]) == ["a", "1"]
    assert string_list(None) == [] and string_list("") == []
