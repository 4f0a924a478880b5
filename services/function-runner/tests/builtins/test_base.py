from __future__ import annotations

from typing import Any

import pytest

from function_runner.builtins import base
from function_runner.builtins.base import (
    BUILTINS,
    ExecutionContext,
    FunctionError,
    builtin,
    load_builtins,
)
from function_runner.settings import Settings

pytestmark = pytest.mark.unit


class TestRegistration:
    def test_load_builtins_imports_system_handlers(self) -> None:
        loaded = load_builtins()
        assert "system/set" in loaded
        entry = loaded["system/set"]
        assert entry.plugin_id == "system"
        assert entry.input_schema["required"] == ["values"]

    @pytest.mark.parametrize("slug", ["noslash", "/name", "plugin/", "a/b/c", ""])
    def test_slug_must_be_plugin_slash_name(self, slug: str) -> None:
        with pytest.raises(ValueError, match="plugin/name"):
            builtin(slug=slug, name="x", description="x", category="x", input_schema={})

    def test_two_handlers_for_one_slug_are_refused(self) -> None:
        async def first(input: dict[str, Any], ctx: ExecutionContext) -> Any:
            return 1

        async def second(input: dict[str, Any], ctx: ExecutionContext) -> Any:
            return 2

        decorate = builtin(
            slug="test/dupe", name="d", description="d", category="test", input_schema={}
        )
        try:
            decorate(first)
            with pytest.raises(ValueError, match="registered twice"):
                decorate(second)
        finally:
            BUILTINS.pop("test/dupe", None)

    def test_integrations_package_is_optional(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(base, "INTEGRATIONS_PACKAGE", "function_runner.no_such_package")
        assert "system/set" in load_builtins()


class TestFunctionError:
    def test_carries_code_and_retry_hints(self) -> None:
        err = FunctionError("slow down", code="rate_limited", retryable=True, retry_after=2.5)
        assert str(err) == "slow down"
        assert (err.code, err.retryable, err.retry_after) == ("rate_limited", True, 2.5)

    def test_defaults_to_internal_not_retryable(self) -> None:
        err = FunctionError("boom")
        assert (err.code, err.retryable, err.status, err.details) == (
            "internal",
            False,
            None,
            None,
        )


class TestIntegrationBaseUrls:
    def test_override_from_json_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(
            "FUNCTION_RUNNER_INTEGRATION_BASE_URLS", '{"openai": "http://127.0.0.1:1/v1/"}'
        )
        settings = Settings()
        assert settings.integration_base_url("openai", "https://x") == "http://127.0.0.1:1/v1"
        assert settings.integration_base_url("slack", "https://slack/api/") == "https://slack/api"
