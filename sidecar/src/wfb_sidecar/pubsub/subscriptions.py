"""Subscriptions: programmatic (``GET /dapr/subscribe``) and declarative, and routing.

Both Dapr formats are understood: v1 (``route``) and v2 (``routes: {rules: [{match,
path}], default}``). ``match`` is a CEL expression over ``event`` (the CloudEvent, with
``data`` decoded); the first matching rule wins, then ``default``; a message no rule
matches and with no default is dropped, as daprd does. ``metadata.rawPayload: "true"``
asks for the message body without the CloudEvent envelope.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wfb_sidecar.resources import Routes, Subscription

log = logging.getLogger(__name__)

Kind = Literal["PROGRAMMATIC", "DECLARATIVE", "STREAMING"]


class SubscriptionError(ValueError):
    pass


@dataclass
class RouteRule:
    match: str
    path: str
    program: Any = None

    def matches(self, event: dict[str, Any]) -> bool:
        if self.program is None:
            return True
        import cel  # imported on first use: it is slow to import and most apps need no rules

        try:
            return self.program.execute(cel.Context({"event": event})) is True
        except Exception as exc:  # the CEL runtime raises plain RuntimeError/TypeError
            log.warning("routing rule %r failed on event %s: %s", self.match, event.get("id"), exc)
            return False


def _path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


def compile_rule(match: str, path: str) -> RouteRule:
    if not match.strip():
        return RouteRule(match, _path(path))
    import cel

    try:
        program = cel.compile(match)
    except ValueError as exc:
        message = str(exc).split("ERROR: ", 1)[-1]
        raise SubscriptionError(f"routing rule {match!r} does not parse: {message}") from None
    return RouteRule(match, _path(path), program)


@dataclass
class ActiveSubscription:
    app_id: str
    pubsub: str
    topic: str
    rules: list[RouteRule]
    default_path: str | None
    dead_letter_topic: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    kind: Kind = "PROGRAMMATIC"
    name: str | None = None

    @property
    def raw(self) -> bool:
        return self.metadata.get("rawPayload", "").lower() == "true"

    def route(self, event: dict[str, Any]) -> str | None:
        for rule in self.rules:
            if rule.matches(event):
                return rule.path
        return self.default_path

    def describe(self) -> dict[str, Any]:
        """The shape of ``/v1.0/metadata`` subscriptions."""
        rules = [{"match": r.match, "path": r.path} for r in self.rules]
        if self.default_path is not None:
            rules.append({"match": "", "path": self.default_path})
        return {
            "pubsubname": self.pubsub,
            "topic": self.topic,
            "metadata": self.metadata,
            "rules": rules,
            "deadLetterTopic": self.dead_letter_topic or "",
            "type": self.kind,
        }


def build(
    app_id: str,
    pubsub: str,
    topic: str,
    route: str | None,
    routes: Routes | None,
    *,
    dead_letter_topic: str | None,
    metadata: dict[str, str],
    kind: Kind,
    name: str | None = None,
) -> ActiveSubscription:
    rules: list[RouteRule] = []
    default = _path(route) if route else None
    if routes is not None:
        rules = [compile_rule(r.match, r.path) for r in routes.rules]
        if routes.default:
            default = _path(routes.default)
    if not rules and default is None:
        raise SubscriptionError(f"subscription to {pubsub}/{topic} has no route")
    return ActiveSubscription(
        app_id,
        pubsub,
        topic,
        rules,
        default,
        dead_letter_topic or None,
        {str(k): str(v) for k, v in metadata.items()},
        kind,
        name,
    )


class _Programmatic(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    pubsubname: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    route: str | None = None
    routes: Routes | None = None
    metadata: dict[str, Any] | None = None
    dead_letter_topic: str | None = Field(default=None, alias="deadLetterTopic")
    bulk_subscribe: dict[str, Any] | None = Field(default=None, alias="bulkSubscribe")


def parse_programmatic(app_id: str, payload: Any) -> tuple[list[ActiveSubscription], list[str]]:
    """Parse an app's ``/dapr/subscribe`` answer; return the usable ones and the problems."""
    if not isinstance(payload, list):
        return [], ["/dapr/subscribe must return a JSON array"]
    result: list[ActiveSubscription] = []
    problems: list[str] = []
    for index, item in enumerate(payload):
        try:
            sub = _Programmatic.model_validate(item)
            if sub.bulk_subscribe and sub.bulk_subscribe.get("enabled"):
                problems.append(
                    f"subscription {index} ({sub.pubsubname}/{sub.topic}): bulkSubscribe is not "
                    "supported by the local sidecar; messages are delivered one by one"
                )
            result.append(
                build(
                    app_id,
                    sub.pubsubname,
                    sub.topic,
                    sub.route,
                    sub.routes,
                    dead_letter_topic=sub.dead_letter_topic,
                    metadata={k: str(v) for k, v in (sub.metadata or {}).items()},
                    kind="PROGRAMMATIC",
                )
            )
        except ValidationError as exc:
            problems.append(f"subscription {index}: {exc.errors()[0]['msg']} ({item!r:.200})")
        except SubscriptionError as exc:
            problems.append(f"subscription {index}: {exc}")
    return result, problems


def from_declarative(resource: Subscription, app_id: str) -> ActiveSubscription:
    spec = resource.spec
    return build(
        app_id,
        spec.pubsubname,
        spec.topic,
        spec.route,
        spec.routes,
        dead_letter_topic=spec.dead_letter_topic,
        metadata=spec.metadata,
        kind="DECLARATIVE",
        name=resource.metadata.name,
    )
