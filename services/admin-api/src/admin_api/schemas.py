"""Base models for every request and response body (camelCase JSON)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """A response body: camelCase on the wire, built from ORM rows."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (no mass assignment of role, owner,
    tenant or version fields)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _check_name(value: str) -> str:
    if any(ord(ch) < 32 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _check_slug(value: str) -> str:
    if not SLUG_RE.match(value):
        raise ValueError(
            "must be 1-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen"
        )
    return value


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_check_name),
]
Slug = Annotated[str, StringConstraints(max_length=63), AfterValidator(_check_slug)]
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]
Message = Annotated[str, StringConstraints(max_length=1000), AfterValidator(_no_nul)]


def clean_name(value: object, default: str) -> str:
    """A usable name from untrusted data (e.g. an imported document's ``name``)."""
    text = "".join(ch for ch in str(value or "") if ord(ch) >= 32).strip()[:200]
    return text or default


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "item"
