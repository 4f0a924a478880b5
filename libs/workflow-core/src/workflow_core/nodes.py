"""Typed configuration of each node type, as a discriminated union on ``type``.

``parse_node`` turns a :class:`~workflow_core.model.SerializedNode` into the
``TypedNode`` variant of its type, whose ``config`` is validated (required keys,
types, ranges). Config keys of seed 003 are kept; additions are documented per field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from workflow_core.durations import DurationError, parse_duration, unit_seconds
from workflow_core.expressions import ExpressionError, compile_expression
from workflow_core.model import SerializedNode
from workflow_core.templates import TemplateError

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*/[a-z0-9][a-z0-9_.-]*$"
_SLUG = re.compile(SLUG_PATTERN)
DEFAULT_APPROVAL_TIMEOUT = timedelta(hours=24)
ACTION_CONTROL_KEYS = frozenset(
    {"actionId", "retry", "timeoutSeconds", "onError", "compensate", "credentialName"}
)
"""Keys of an action's config that steer execution; every other key is function input."""


class _Config(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- trigger ----------------------------------------------------------------------------


class WebhookOptions(_Config):
    mode: Literal["async", "sync"] = "async"
    auth: Literal["hmac", "bearer", "none"] = "hmac"
    sync_timeout_seconds: float = Field(default=30, gt=0, le=300, alias="syncTimeoutSeconds")
    rate_limit_per_minute: int = Field(default=600, ge=1, alias="rateLimitPerMinute")
    tolerance_seconds: int = Field(default=300, ge=1, le=86_400, alias="toleranceSeconds")
    """Addition: how far ``x-wfb-timestamp`` may be from now, and how long a used
    signature is remembered (replay refusal)."""


class TriggerConfig(_Config):
    trigger_type: Literal["manual", "webhook", "schedule", "event"] = Field(
        default="manual", alias="triggerType"
    )
    input_schema: dict[str, Any] | None = Field(default=None, alias="inputSchema")
    # schedule
    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: float | None = Field(default=None, gt=0, alias="intervalSeconds")
    missed_policy: Literal["skip", "run_once"] = Field(default="skip", alias="missedPolicy")
    overlap_policy: Literal["allow", "skip", "queue"] = Field(
        default="allow", alias="overlapPolicy"
    )
    # event
    topic: str | None = Field(default=None, max_length=200)
    pubsub_name: str = Field(default="pubsub", alias="pubsubName", max_length=200)
    filter: str | None = None
    """CEL over ``event`` (the CloudEvent as a map): ``event.data.amount > 100``."""
    dead_letter_topic: str | None = Field(default=None, alias="deadLetterTopic", max_length=200)
    """Addition: where malformed events go (default ``<topic>.deadletter``)."""
    # webhook
    webhook: WebhookOptions | None = None

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        return check_cron(value) if value is not None else None

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("filter")
    @classmethod
    def _filter_compiles(cls, value: str | None) -> str | None:
        return check_event_filter(value) if value is not None and value.strip() else None

    @property
    def resolved_dead_letter_topic(self) -> str:
        return self.dead_letter_topic or f"{self.topic}.deadletter"

    @property
    def webhook_options(self) -> WebhookOptions:
        return self.webhook or WebhookOptions()

    @model_validator(mode="after")
    def _kind_needs_its_fields(self) -> TriggerConfig:
        if self.trigger_type == "schedule" and not (self.cron or self.interval_seconds):
            raise ValueError("a schedule trigger needs 'cron' or 'intervalSeconds'")
        if self.trigger_type == "schedule" and self.cron and self.interval_seconds:
            raise ValueError("a schedule trigger takes 'cron' or 'intervalSeconds', not both")
        if self.trigger_type == "event" and not self.topic:
            raise ValueError("an event trigger needs 'topic'")
        return self


def check_cron(value: str) -> str:
    """A cron expression of 5 fields (minute hour day-of-month month day-of-week), an
    optional 6th field of seconds, or a nickname such as ``@hourly``."""
    text = " ".join(value.split())
    fields = text.split(" ")
    if not text.startswith("@") and len(fields) not in (5, 6):
        raise ValueError(
            f"cron {value!r} has {len(fields)} field(s); use 5 (minute hour day month weekday) "
            "or 6 (with seconds last)"
        )
    try:
        croniter(text)
    except (CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"cron {value!r} is not valid: {exc}") from None
    return text


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from None
    return value


def check_event_filter(value: str) -> str:
    """The filter compiles as CEL and reads only ``event``."""
    try:
        compiled = compile_expression(value)
    except (ExpressionError, TemplateError) as exc:
        raise ValueError(f"filter: {exc}") from None
    if compiled.template_refs:
        raise ValueError("filter: templates are not available here; use event.<field>")
    others = sorted(set(compiled.variables()) - {"event"})
    if others:
        raise ValueError(
            f"filter: unknown name(s) {', '.join(others)}; a filter reads only 'event' "
            "(the CloudEvent: event.type, event.source, event.data...)"
        )
    return value


class TriggerNode(BaseModel):
    type: Literal["trigger"]
    id: str
    config: TriggerConfig


# --- action -----------------------------------------------------------------------------


class RetryConfig(_Config):
    """Maps onto Dapr's ``RetryPolicy``; attempts include the first one."""

    max_attempts: int = Field(default=3, ge=1, le=100, alias="maxAttempts")
    initial_interval_seconds: float = Field(default=1, gt=0, alias="initialIntervalSeconds")
    backoff_coefficient: float = Field(default=2, ge=1, alias="backoffCoefficient")
    max_interval_seconds: float | None = Field(default=None, gt=0, alias="maxIntervalSeconds")
    retry_timeout_seconds: float | None = Field(default=None, gt=0, alias="retryTimeoutSeconds")


class CompensateConfig(_Config):
    """The saga step undoing an action: another function with its own (templated) input."""

    action_id: str = Field(alias="actionId")
    input: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)


def check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            f"{value!r} is not a function slug; use 'plugin/name' in lower case, "
            "e.g. 'system/http-request'"
        )
    return value


class ActionConfig(_Config):
    action_id: str = Field(alias="actionId")
    retry: RetryConfig | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, alias="timeoutSeconds")
    on_error: Literal["stop", "continue", "compensate"] = Field(default="stop", alias="onError")
    compensate: CompensateConfig | None = None
    credential_name: str | None = Field(
        default=None, alias="credentialName", pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$"
    )
    """Which of the project's stored credentials the function uses (default: ``default``)."""

    @field_validator("action_id")
    @classmethod
    def _slug(cls, value: str) -> str:
        return check_slug(value)

    def function_input(self) -> dict[str, Any]:
        """The config minus control keys: what the function receives (before templating)."""
        return dict(self.model_extra or {})


class ActionNode(BaseModel):
    type: Literal["action", "activity"]
    id: str
    config: ActionConfig


# --- condition --------------------------------------------------------------------------


class ConditionConfig(_Config):
    expression: str = Field(min_length=1)


class ConditionNode(BaseModel):
    type: Literal["condition"]
    id: str
    config: ConditionConfig


# --- approval gate ----------------------------------------------------------------------


class ApprovalConfig(_Config):
    event_name: str | None = Field(default=None, alias="eventName", min_length=1, max_length=200)
    timeout_hours: float | None = Field(default=None, gt=0, alias="timeoutHours")
    timeout_seconds: float | None = Field(default=None, gt=0, alias="timeoutSeconds")
    message: str | None = None
    approvers: list[str] = Field(default_factory=list)

    def timeout(self) -> timedelta:
        if self.timeout_seconds is not None:
            return timedelta(seconds=self.timeout_seconds)
        if self.timeout_hours is not None:
            return timedelta(hours=self.timeout_hours)
        return DEFAULT_APPROVAL_TIMEOUT


class ApprovalNode(BaseModel):
    type: Literal["approval-gate"]
    id: str
    config: ApprovalConfig

    @property
    def event_name(self) -> str:
        return self.config.event_name or default_approval_event(self.id)


def default_approval_event(node_id: str) -> str:
    return f"approval_{node_id}"


class ApprovalResponse(BaseModel):
    """The payload an approval gate waits for."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    approved: bool
    reason: str | None = Field(default=None, max_length=2000)
    responded_by: str | None = Field(default=None, alias="respondedBy", max_length=200)


# --- timer ------------------------------------------------------------------------------


class TimerConfig(_Config):
    duration_seconds: float | None = Field(default=None, ge=0, alias="durationSeconds")
    duration_minutes: float | None = Field(default=None, ge=0, alias="durationMinutes")
    duration_hours: float | None = Field(default=None, ge=0, alias="durationHours")
    duration: float | str | None = None
    duration_unit: str | None = Field(default=None, alias="durationUnit")
    until: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TimerConfig:
        forms = [
            name
            for name, value in (
                ("durationSeconds", self.duration_seconds),
                ("durationMinutes", self.duration_minutes),
                ("durationHours", self.duration_hours),
                ("duration", self.duration),
                ("until", self.until),
            )
            if value is not None
        ]
        if not forms:
            raise ValueError(
                "a timer needs one of durationSeconds, durationMinutes, durationHours, "
                "duration (+ durationUnit) or until"
            )
        if len(forms) > 1:
            raise ValueError(f"a timer takes one duration form, got {', '.join(forms)}")
        if self.duration is not None and not _is_template(self.duration):
            self.delay()  # raises a clear error for a bad value or unit
        return self

    def delay(self) -> timedelta | None:
        """The relative delay, or ``None`` when the timer waits ``until`` a time."""
        if self.duration_seconds is not None:
            return timedelta(seconds=self.duration_seconds)
        if self.duration_minutes is not None:
            return timedelta(minutes=self.duration_minutes)
        if self.duration_hours is not None:
            return timedelta(hours=self.duration_hours)
        if self.duration is not None:
            try:
                if self.duration_unit:
                    return timedelta(
                        seconds=float(self.duration) * unit_seconds(self.duration_unit)
                    )
                return parse_duration(self.duration)
            except (DurationError, ValueError) as exc:
                raise ValueError(str(exc)) from None
        return None


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


class TimerNode(BaseModel):
    type: Literal["timer"]
    id: str
    config: TimerConfig


# --- publish event ----------------------------------------------------------------------


class PublishEventConfig(_Config):
    topic: str = Field(min_length=1, max_length=200)
    pubsub_name: str = Field(default="pubsub", alias="pubsubName", min_length=1)
    data: Any = None
    metadata: dict[str, str] = Field(default_factory=dict)


class PublishEventNode(BaseModel):
    type: Literal["publish-event"]
    id: str
    config: PublishEventConfig


# --- loop / for-each (addition) ---------------------------------------------------------


class SubGraph(_Config):
    """A loop body: nodes and edges like a definition's, without a trigger."""

    nodes: list[SerializedNode] = Field(default_factory=list)
    edges: list[dict[str, Any]] = Field(default_factory=list)


class LoopConfig(_Config):
    """Runs ``body`` (or the single function ``actionId``) once per item of ``items``.

    Inside the body, ``{{item}}`` and ``{{index}}`` refer to the current element.
    """

    items: str | list[Any]
    concurrency: int = Field(default=4, ge=1, le=100)
    body: SubGraph | None = None
    action_id: str | None = Field(default=None, alias="actionId")
    max_items: int = Field(default=1000, ge=1, le=10000, alias="maxItems")
    on_error: Literal["stop", "continue"] = Field(default="stop", alias="onError")

    @model_validator(mode="after")
    def _body_or_action(self) -> LoopConfig:
        if (self.body is None) == (self.action_id is None):
            raise ValueError("a loop needs exactly one of 'body' (a sub-graph) or 'actionId'")
        if self.action_id is not None:
            check_slug(self.action_id)
        if self.body is not None and not self.body.nodes:
            raise ValueError("a loop body needs at least one node")
        return self

    def function_input(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LoopNode(BaseModel):
    type: Literal["loop", "for-each"]
    id: str
    config: LoopConfig


# --- sub-workflow (addition) ------------------------------------------------------------


class SubWorkflowConfig(_Config):
    """Runs another saved workflow as a Dapr child workflow."""

    workflow_id: str = Field(alias="workflowId", min_length=1)
    version: int | Literal["active", "latest"] = "active"
    input: Any = None
    """Trigger data of the child run (templated); defaults to this run's trigger data."""


class SubWorkflowNode(BaseModel):
    type: Literal["sub-workflow"]
    id: str
    config: SubWorkflowConfig


TypedNode = Annotated[
    TriggerNode
    | ActionNode
    | ConditionNode
    | ApprovalNode
    | TimerNode
    | PublishEventNode
    | LoopNode
    | SubWorkflowNode,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[TypedNode] = TypeAdapter(TypedNode)


class ConfigProblem(BaseModel):
    field: str
    message: str


def parse_node(node: SerializedNode) -> TypedNode:
    """Validate ``node.config`` against its type; raises ``pydantic.ValidationError``."""
    return _ADAPTER.validate_python({"type": node.type, "id": node.id, "config": node.config})


def config_problems(node: SerializedNode) -> list[ConfigProblem]:
    """Every config problem of a node, each naming its config field."""
    try:
        parse_node(node)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            # loc is ("<type>", "config", field...) for a tagged union
            if "config" in loc:
                loc = loc[loc.index("config") :]
            field = ".".join(loc) or "config"
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                message = "is required"
            problems.append(ConfigProblem(field=field, message=message))
        return problems
    return []
