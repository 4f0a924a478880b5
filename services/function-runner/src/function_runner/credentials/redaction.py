"""Scrubbing secret values out of anything that leaves the runner (results, errors)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
"""Shorter values (``"1"``, ``"yes"``) would redact ordinary text; they are not secrets."""


def secret_values(*groups: Collection[str]) -> list[str]:
    values = {v for group in groups for v in group if len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(value: Any, secrets: list[str]) -> Any:
    """``value`` with every occurrence of a secret replaced (keys and strings, nested)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {redact_text(str(k), secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, secrets) for v in value]
    return value
