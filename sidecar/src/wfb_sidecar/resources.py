"""Dapr resource files (``components/``), read the way daprd reads them.

Every ``*.yaml`` / ``*.yml`` file of a resources directory may hold several YAML
documents. Kinds understood: ``Component``, ``Subscription`` (``v1alpha1`` and
``v2alpha1``), ``Resiliency`` and ``Configuration``; other kinds are logged and skipped,
as daprd does. A component whose type this sidecar does not implement is a startup
error naming the type and the file.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wfb_sidecar.durations import DurationError, parse_go_duration

log = logging.getLogger(__name__)

SUPPORTED_COMPONENT_TYPES = {
    "state.sqlite": "state",
    "pubsub.in-memory": "pubsub",
    "secretstores.local.file": "secretstores",
    "secretstores.local.env": "secretstores",
}
API_VERSIONS = {"dapr.io/v1alpha1", "dapr.io/v2alpha1"}


class ResourceError(ValueError):
    """A resource file that cannot be used; the message names the file."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ObjectMeta(_Model):
    name: str
    namespace: str | None = None

    @field_validator("name")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("metadata.name must not be empty")
        return value


class SecretKeyRef(_Model):
    name: str
    key: str | None = None


class MetadataItem(_Model):
    name: str
    value: Any = None
    secret_key_ref: SecretKeyRef | None = Field(default=None, alias="secretKeyRef")
    env_ref: str | None = Field(default=None, alias="envRef")


class ComponentSpec(_Model):
    type: str
    version: str = "v1"
    metadata: list[MetadataItem] = Field(default_factory=list)
    ignore_errors: bool = Field(default=False, alias="ignoreErrors")


class ComponentAuth(_Model):
    secret_store: str | None = Field(default=None, alias="secretStore")


class Rule(_Model):
    match: str = ""
    path: str


class Routes(_Model):
    rules: list[Rule] = Field(default_factory=list)
    default: str | None = None


class SubscriptionSpec(_Model):
    topic: str
    pubsubname: str
    route: str | None = None
    routes: Routes | None = None
    dead_letter_topic: str | None = Field(default=None, alias="deadLetterTopic")
    metadata: dict[str, str] = Field(default_factory=dict)
    bulk_subscribe: dict[str, Any] | None = Field(default=None, alias="bulkSubscribe")


class RetrySpec(_Model):
    policy: Literal["constant", "exponential"] = "constant"
    duration: str = "5s"
    max_interval: str = Field(default="60s", alias="maxInterval")
    max_retries: int = Field(default=-1, alias="maxRetries")
    matching: dict[str, str] = Field(default_factory=dict)


class Policies(_Model):
    timeouts: dict[str, str] = Field(default_factory=dict)
    retries: dict[str, RetrySpec] = Field(default_factory=dict)
    circuit_breakers: dict[str, Any] = Field(default_factory=dict, alias="circuitBreakers")


class TargetPolicy(_Model):
    timeout: str | None = None
    retry: str | None = None
    circuit_breaker: str | None = Field(default=None, alias="circuitBreaker")


class ComponentTarget(_Model):
    outbound: TargetPolicy | None = None
    inbound: TargetPolicy | None = None


class Targets(_Model):
    apps: dict[str, TargetPolicy] = Field(default_factory=dict)
    actors: dict[str, Any] = Field(default_factory=dict)
    components: dict[str, ComponentTarget] = Field(default_factory=dict)


class ResiliencySpec(_Model):
    policies: Policies = Field(default_factory=Policies)
    targets: Targets = Field(default_factory=Targets)


class SecretScope(_Model):
    store_name: str = Field(alias="storeName")
    default_access: Literal["allow", "deny"] = Field(default="allow", alias="defaultAccess")
    allowed_secrets: list[str] = Field(default_factory=list, alias="allowedSecrets")
    denied_secrets: list[str] = Field(default_factory=list, alias="deniedSecrets")

    def allows(self, key: str) -> bool:
        """Dapr's rule: an allow list wins; then the deny list; then the default."""
        if self.allowed_secrets:
            return key in self.allowed_secrets
        if key in self.denied_secrets:
            return False
        return self.default_access == "allow"


class SecretsSpec(_Model):
    scopes: list[SecretScope] = Field(default_factory=list)


class AccessOperation(_Model):
    name: str
    http_verb: list[str] = Field(default_factory=lambda: ["*"], alias="httpVerb")
    action: Literal["allow", "deny"]


class AccessPolicy(_Model):
    app_id: str = Field(alias="appId")
    default_action: Literal["allow", "deny"] | None = Field(default=None, alias="defaultAction")
    operations: list[AccessOperation] = Field(default_factory=list)


class AccessControl(_Model):
    default_action: Literal["allow", "deny"] = Field(default="allow", alias="defaultAction")
    policies: list[AccessPolicy] = Field(default_factory=list)


class ConfigurationSpec(_Model):
    secrets: SecretsSpec | None = None
    access_control: AccessControl | None = Field(default=None, alias="accessControl")


class _Resource(_Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    scopes: list[str] = Field(default_factory=list)
    source: Path = Field(default=Path("."), exclude=True)


_R = TypeVar("_R", bound=_Resource)


class Component(_Resource):
    spec: ComponentSpec
    auth: ComponentAuth | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def type(self) -> str:
        return self.spec.type

    @property
    def block(self) -> str:
        return SUPPORTED_COMPONENT_TYPES[self.spec.type]

    def visible_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes

    def raw_metadata(self) -> dict[str, MetadataItem]:
        return {item.name: item for item in self.spec.metadata}


class Subscription(_Resource):
    spec: SubscriptionSpec

    def applies_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes


class Resiliency(_Resource):
    spec: ResiliencySpec

    def applies_to(self, app_id: str) -> bool:
        return not self.scopes or app_id in self.scopes


class Configuration(_Resource):
    spec: ConfigurationSpec = Field(default_factory=ConfigurationSpec)


@dataclass
class ResourceSet:
    """Everything read from one or more resources directories."""

    components: list[Component] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    resiliencies: list[Resiliency] = field(default_factory=list)
    configurations: list[Configuration] = field(default_factory=list)

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


def _documents(path: Path) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        raise ResourceError(f"{path}: invalid YAML: {exc}") from None
    except OSError as exc:
        raise ResourceError(f"{path}: cannot read: {exc}") from None
    result: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ResourceError(f"{path}: a document is not a mapping")
        result.append(doc)
    return result


def _parse(model: type[_R], doc: dict[str, Any], path: Path) -> _R:
    try:
        resource = model.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'document'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ResourceError(f"{path}: invalid {doc.get('kind')}: {problems}") from None
    if resource.api_version not in API_VERSIONS:
        raise ResourceError(
            f"{path}: {resource.kind} {resource.metadata.name!r} has apiVersion "
            f"{resource.api_version!r}; expected one of {', '.join(sorted(API_VERSIONS))}"
        )
    resource.source = path
    return resource


def _check_component(component: Component) -> None:
    path = component.source
    if component.type not in SUPPORTED_COMPONENT_TYPES:
        raise ResourceError(
            f"{path}: component {component.name!r} has type {component.type!r}, which the local "
            f"sidecar does not support (supported: {', '.join(sorted(SUPPORTED_COMPONENT_TYPES))})"
        )
    if component.spec.version != "v1":
        raise ResourceError(
            f"{path}: component {component.name!r} ({component.type}) has version "
            f"{component.spec.version!r}; only v1 exists"
        )


def _check_resiliency(resiliency: Resiliency) -> None:
    path = resiliency.source
    policies = resiliency.spec.policies
    for name, value in policies.timeouts.items():
        _duration(value, f"{path}: timeout policy {name!r}")
    for name, retry in policies.retries.items():
        _duration(retry.duration, f"{path}: retry policy {name!r} duration")
        _duration(retry.max_interval, f"{path}: retry policy {name!r} maxInterval")
    targets: list[tuple[str, TargetPolicy]] = list(resiliency.spec.targets.apps.items())
    for name, component in resiliency.spec.targets.components.items():
        targets += [(name, t) for t in (component.inbound, component.outbound) if t is not None]
    for name, target in targets:
        if target.retry and target.retry not in policies.retries:
            raise ResourceError(f"{path}: target {name!r} names unknown retry {target.retry!r}")
        if target.timeout and target.timeout not in policies.timeouts:
            _duration(target.timeout, f"{path}: target {name!r} timeout")
        if target.circuit_breaker and target.circuit_breaker not in policies.circuit_breakers:
            raise ResourceError(
                f"{path}: target {name!r} names unknown circuit breaker {target.circuit_breaker!r}"
            )


def _duration(value: str, where: str) -> float:
    try:
        return parse_go_duration(value)
    except DurationError as exc:
        raise ResourceError(f"{where}: {exc}") from None


def _add(resources: ResourceSet, doc: dict[str, Any], path: Path) -> None:
    kind = doc.get("kind")
    if kind == "Component":
        component = _parse(Component, doc, path)
        _check_component(component)
        resources.components.append(component)
    elif kind == "Subscription":
        subscription = _parse(Subscription, doc, path)
        if subscription.spec.route is None and subscription.spec.routes is None:
            raise ResourceError(
                f"{path}: subscription {subscription.metadata.name!r} has neither route nor routes"
            )
        resources.subscriptions.append(subscription)
    elif kind == "Resiliency":
        resiliency = _parse(Resiliency, doc, path)
        _check_resiliency(resiliency)
        resources.resiliencies.append(resiliency)
    elif kind == "Configuration":
        resources.configurations.append(_parse(Configuration, doc, path))
    else:
        log.warning(
            "%s: skipping a resource of kind %r, which the local sidecar ignores", path, kind
        )


def load_resources(directories: list[Path]) -> ResourceSet:
    """Read every YAML file of ``directories`` (in name order)."""
    resources = ResourceSet()
    for directory in directories:
        if not directory.is_dir():
            raise ResourceError(f"{directory}: resources directory does not exist")
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
                for doc in _documents(path):
                    _add(resources, doc, path)
    _check_unique(resources)
    return resources


def _check_unique(resources: ResourceSet) -> None:
    seen: dict[tuple[str, str], Path] = {}
    named: list[tuple[str, ObjectMeta, Path]] = [
        ("Component", c.metadata, c.source) for c in resources.components
    ] + [("Subscription", s.metadata, s.source) for s in resources.subscriptions]
    for kind, meta, source in named:
        key = (kind, meta.name)
        if key in seen:
            raise ResourceError(
                f"{source}: {kind} {meta.name!r} is also defined in {seen[key]}; names must be unique"
            )
        seen[key] = source


def load_configuration(path: Path) -> Configuration:
    """A Configuration file, as given to daprd with ``--config`` (``configFilePath``)."""
    docs = _documents(path)
    configs = [d for d in docs if d.get("kind") == "Configuration"]
    if len(configs) != 1:
        raise ResourceError(f"{path}: expected exactly one Configuration document")
    return _parse(Configuration, configs[0], path)


def metadata_value(
    component: Component,
    item: MetadataItem,
    resolve_secret: Any = None,
) -> str:
    """A metadata item's value: literal, ``envRef`` or ``secretKeyRef``."""
    if item.env_ref is not None:
        if item.env_ref not in os.environ:
            raise ResourceError(
                f"{component.source}: component {component.name!r} metadata {item.name!r} "
                f"reads environment variable {item.env_ref!r}, which is not set"
            )
        return os.environ[item.env_ref]
    if item.secret_key_ref is not None:
        if resolve_secret is None:
            raise ResourceError(
                f"{component.source}: component {component.name!r} metadata {item.name!r} uses "
                "secretKeyRef, which a secret store component cannot use"
            )
        value: str = resolve_secret(component, item.secret_key_ref)
        return value
    if item.value is None:
        return ""
    if isinstance(item.value, bool):
        return "true" if item.value else "false"
    return str(item.value)
