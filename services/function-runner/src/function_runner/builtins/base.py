"""The builtin-function framework: what a Python handler sees and how it registers.

Every builtin (``system/*`` here, third-party integrations in
``function_runner.integrations``) is an ``async def handler(input, ctx)`` decorated with
:func:`builtin`. The decorator records a :class:`BuiltinFunction` in :data:`BUILTINS`;
:func:`load_builtins` imports every module that holds builtins so the decorators run, and
the registry seeds the ``functions`` table from the result at startup.

A handler returns the ``data`` of a successful run (anything JSON-serialisable) or raises
:class:`FunctionError` (a function-level failure: HTTP 200 with ``success: false`` and the
error's ``code``/``retryable``/``retry_after``). Any other exception is an internal failure.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import httpx

if TYPE_CHECKING:
    from function_runner.settings import Settings

ErrorCode = Literal[
    "validation",
    "auth",
    "forbidden",
    "not_found",
    "rate_limited",
    "timeout",
    "upstream",
    "conflict",
    "internal",
]
"""Why a function failed; the orchestrator decides retries from ``retryable``, the UI shows
the code."""


class SafeHttpClient(Protocol):
    """An SSRF-guarded HTTP client for URLs a user typed (``ctx.safe_http``).

    Resolves the host once, refuses loopback/private/link-local/metadata/... addresses
    unless allow-listed, connects to the checked address, and re-checks every redirect hop.
    Refusals raise :class:`FunctionError` with code ``forbidden``. The returned response has
    its body read (at most ``max_response_bytes``; more raises ``FunctionError``
    ``validation``).
    """

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request HTTP timeout, as httpx
        follow_redirects: bool = True,
        max_response_bytes: int | None = None,
    ) -> httpx.Response: ...


@dataclass(frozen=True)
class ExecutionContext:
    """Everything a handler may use besides its input. Never log ``credentials``."""

    execution_id: str
    workflow_id: str
    node_id: str
    node_name: str
    attempt: int
    credentials: Mapping[str, str]
    """Resolved for the function's ``integration_type`` (may be empty)."""
    deadline: float
    """``time.monotonic()`` deadline derived from the effective ``timeout_seconds``."""
    http: httpx.AsyncClient
    """Shared client for calls to fixed, trusted API hosts (integrations)."""
    safe_http: SafeHttpClient
    """SSRF-guarded client for user-supplied URLs."""
    settings: Settings
    log: logging.LoggerAdapter[logging.Logger]
    # Additions (defaulted, so positional/keyword construction above stays valid):
    node_outputs: Mapping[str, Any] = field(default_factory=dict)
    """Outputs of upstream nodes as sent with the run (``node_outputs`` of ``/execute``)."""
    tenant_id: str | None = None
    idempotency_key: str | None = None
    """Stable across retries of one step: send it as ``Idempotency-Key`` to APIs that take
    one."""


class FunctionError(Exception):
    """A function-level failure: reported as ``success: false`` (HTTP 200), never a 5xx.

    ``message`` must not contain secrets: it is returned to the caller and recorded.
    """

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode = "internal",
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: ErrorCode = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.details = details

    def __repr__(self) -> str:
        return f"FunctionError({self.message!r}, code={self.code!r}, retryable={self.retryable})"


Handler = Callable[[dict[str, Any], ExecutionContext], Awaitable[Any]]


@dataclass(frozen=True)
class FunctionRecord:
    """A registry row as the executors see it: an immutable snapshot, detached from the DB.

    ``command`` is the entrypoint override as an argv list (the ``command`` column holds a
    JSON array or a shell-style string); ``resources`` is the optional Kubernetes resources
    object (``{"requests": {...}, "limits": {...}}``) of an OCI function.
    """

    id: str
    slug: str
    name: str
    plugin_id: str
    version: str
    execution_type: Literal["builtin", "oci", "http"]
    image_ref: str | None = None
    command: list[str] | None = None
    working_dir: str | None = None
    container_env: Mapping[str, str] | None = None
    resources: Mapping[str, Any] | None = None
    webhook_url: str | None = None
    webhook_method: str = "POST"
    webhook_headers: Mapping[str, str] | None = None
    webhook_timeout_seconds: int = 30
    input_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    timeout_seconds: int = 300
    retry_policy: Mapping[str, Any] | None = None
    max_concurrency: int = 0
    integration_type: str | None = None
    is_builtin: bool = False
    is_enabled: bool = True
    is_deprecated: bool = False


@dataclass(frozen=True)
class OciResult:
    """What ``function_runner.executors.oci.run_oci_function`` returns on success.

    On failure it raises :class:`FunctionError`; ``details`` may carry ``job_name`` and
    ``pod_name`` (and e.g. ``logTail``), which ``/execute`` lifts into its response.
    """

    data: Any
    job_name: str
    pod_name: str | None = None


OciRunner = Callable[[FunctionRecord, dict[str, Any], ExecutionContext], Awaitable[OciResult]]
"""Signature of ``run_oci_function(function, input, ctx)``: ``input`` is already validated
against ``input_schema``; ids, attempt, credentials and the deadline are in ``ctx``."""


@dataclass(frozen=True)
class BuiltinFunction:
    """A registered builtin; seeded into the ``functions`` table (``is_builtin``)."""

    slug: str
    name: str
    description: str
    plugin_id: str
    category: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    handler: Handler
    integration_type: str | None = None
    timeout_seconds: int = 300
    version: str = "1.0.0"


BUILTINS: dict[str, BuiltinFunction] = {}
"""Every builtin whose module has been imported, by slug."""

BUILTIN_PACKAGES = ("function_runner.builtins.system",)
INTEGRATIONS_PACKAGE = "function_runner.integrations"


def builtin(
    *,
    slug: str,
    name: str,
    description: str,
    category: str,
    input_schema: dict[str, Any],
    output_schema: dict[str, Any] | None = None,
    integration_type: str | None = None,
    timeout_seconds: int = 300,
) -> Callable[[Handler], Handler]:
    """Register the decorated handler as builtin ``slug`` (``plugin/name``)."""
    plugin_id, sep, rest = slug.partition("/")
    if not sep or not plugin_id or not rest or "/" in rest:
        raise ValueError(f"builtin slug {slug!r} must look like 'plugin/name'")

    def register(handler: Handler) -> Handler:
        existing = BUILTINS.get(slug)
        if existing is not None and existing.handler.__qualname__ != handler.__qualname__:
            raise ValueError(f"builtin {slug!r} is registered twice")
        BUILTINS[slug] = BuiltinFunction(
            slug=slug,
            name=name,
            description=description,
            plugin_id=plugin_id,
            category=category,
            input_schema=input_schema,
            output_schema=output_schema,
            handler=handler,
            integration_type=integration_type,
            timeout_seconds=timeout_seconds,
        )
        return handler

    return register


def _import_package_modules(package_name: str) -> None:
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(getattr(package, "__path__", [])):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package_name}.{module.name}")


def load_builtins() -> dict[str, BuiltinFunction]:
    """Import every module holding builtins so their decorators run; return :data:`BUILTINS`.

    ``function_runner.integrations`` is optional: every module in it is imported when the
    package exists.
    """
    for package_name in BUILTIN_PACKAGES:
        _import_package_modules(package_name)
    if importlib.util.find_spec(INTEGRATIONS_PACKAGE) is not None:
        _import_package_modules(INTEGRATIONS_PACKAGE)
    return BUILTINS
