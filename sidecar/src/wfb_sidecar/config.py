"""From the run file and resource files to what each app's sidecar serves.

Like ``dapr run -f``, every app of ``dapr.yaml`` gets its own sidecar endpoints (its
``daprHTTPPort`` and ``daprGRPCPort``), its own view of the components (``scopes``), its
own Configuration (``configFilePath``) and its own secret stores (relative paths in
component metadata are resolved from the app's directory, where daprd runs under
``dapr run -f``). Pub/sub and state components are shared by name: that is the point
of one broker for all apps.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wfb_sidecar.errors import DaprError
from wfb_sidecar.pubsub.broker import PubSubSettings
from wfb_sidecar.pubsub.subscriptions import ActiveSubscription, SubscriptionError, from_declarative
from wfb_sidecar.resources import (
    Component,
    Configuration,
    Resiliency,
    ResourceError,
    ResourceSet,
    SecretKeyRef,
    load_configuration,
    load_resources,
    metadata_value,
)
from wfb_sidecar.runfile import AppSpec, RunFile
from wfb_sidecar.secrets import AppSecrets, SecretNotFound, build_secret_store

log = logging.getLogger(__name__)


@dataclass
class StateSettings:
    name: str
    key_prefix: str
    actor_state_store: bool
    scopes: list[str]


@dataclass
class AppConfig:
    spec: AppSpec
    app_dir: Path
    http_port: int
    grpc_port: int
    components: list[Component]
    secrets: AppSecrets
    configuration: Configuration | None
    declarative: list[ActiveSubscription] = field(default_factory=list)

    @property
    def app_id(self) -> str:
        return self.spec.app_id


@dataclass
class SidecarConfig:
    run_file: RunFile
    apps: list[AppConfig]
    pubsubs: dict[str, PubSubSettings]
    state_stores: dict[str, StateSettings]
    resiliencies: list[Resiliency]
    app_api_token: str | None = None
    api_token: str | None = None


def _check_ports(run_file: RunFile) -> None:
    used: dict[int, str] = {}
    for app in run_file.apps:
        for kind, port in (
            ("appPort", app.app_port),
            ("daprHTTPPort", app.dapr_http_port),
            ("daprGRPCPort", app.dapr_grpc_port),
        ):
            if port is None:
                if kind == "appPort":
                    continue
                raise ResourceError(
                    f"{run_file.base_dir / 'dapr.yaml'}: app {app.app_id!r} needs {kind}: the local "
                    "sidecar serves each app on the ports the run file gives it"
                )
            if port in used:
                raise ResourceError(
                    f"{run_file.base_dir / 'dapr.yaml'}: port {port} ({kind} of {app.app_id!r}) is "
                    f"also {used[port]}"
                )
            used[port] = f"{kind} of {app.app_id!r}"
        if app.app_protocol.lower() not in ("http", ""):
            raise ResourceError(
                f"app {app.app_id!r}: appProtocol {app.app_protocol!r} is not supported by the local "
                "sidecar (only http)"
            )


def _resource_sets(run_file: RunFile) -> dict[str, ResourceSet]:
    """The resource set of each app (apps sharing a directory share one read)."""
    by_dirs: dict[tuple[Path, ...], ResourceSet] = {}
    result: dict[str, ResourceSet] = {}
    for app in run_file.apps:
        directories = tuple(run_file.resources_dirs(app))
        if not directories:
            log.warning("app %s has no resourcesPath: it gets no components", app.app_id)
            result[app.app_id] = ResourceSet()
            continue
        if directories not in by_dirs:
            by_dirs[directories] = load_resources(list(directories))
        result[app.app_id] = by_dirs[directories]
    return result


def _configuration(run_file: RunFile, app: AppSpec) -> Configuration | None:
    path = app.config_file_path or run_file.common.config_file_path
    if not path:
        return None
    full = (run_file.base_dir / path).resolve()
    return load_configuration(full)


def _environment(run_file: RunFile, app: AppSpec) -> dict[str, str]:
    return {**os.environ, **run_file.common.env, **app.env}


def _secret_stores(
    run_file: RunFile,
    app: AppSpec,
    components: list[Component],
    configuration: Configuration | None,
) -> AppSecrets:
    secrets = AppSecrets()
    environ = _environment(run_file, app)
    for component in components:
        if component.block != "secretstores":
            continue
        metadata = {
            name: metadata_value(component, item) for name, item in component.raw_metadata().items()
        }
        try:
            secrets.stores[component.name] = build_secret_store(
                component.name, component.type, metadata, run_file.app_dir(app), environ
            )
        except ResourceError as exc:
            raise ResourceError(f"{component.source}: {exc}") from None
    if configuration is not None and configuration.spec.secrets is not None:
        for scope in configuration.spec.secrets.scopes:
            secrets.scopes[scope.store_name] = scope
    return secrets


def _resolver(secrets: AppSecrets, app_id: str) -> Callable[[Component, SecretKeyRef], str]:
    def resolve(component: Component, ref: SecretKeyRef) -> str:
        store = component.auth.secret_store if component.auth else None
        if not store:
            raise ResourceError(
                f"{component.source}: component {component.name!r} uses secretKeyRef but names no "
                "auth.secretStore"
            )
        try:
            return secrets.resolve(store, ref.name, ref.key)
        except (SecretNotFound, DaprError) as exc:
            raise ResourceError(
                f"{component.source}: component {component.name!r} (app {app_id}) cannot read "
                f"secret {ref.name!r} from store {store!r}: {exc}"
            ) from None

    return resolve


def _metadata(component: Component, secrets: AppSecrets | None, app_id: str) -> dict[str, str]:
    resolve = _resolver(secrets, app_id) if secrets is not None else None
    return {
        name: metadata_value(component, item, resolve)
        for name, item in component.raw_metadata().items()
    }


def _shared_components(
    apps: list[AppConfig],
) -> tuple[dict[str, PubSubSettings], dict[str, StateSettings]]:
    pubsubs: dict[str, PubSubSettings] = {}
    states: dict[str, StateSettings] = {}
    seen: dict[str, Component] = {}
    for app in apps:
        for component in app.components:
            first = seen.setdefault(component.name, component)
            if first.type != component.type:
                raise ResourceError(
                    f"{component.source}: component {component.name!r} is {component.type} here "
                    f"but {first.type} in {first.source}"
                )
            if component.name in pubsubs or component.name in states:
                continue
            metadata = _metadata(component, app.secrets, app.app_id)
            if component.block == "pubsub":
                pubsubs[component.name] = PubSubSettings.from_metadata(
                    component.name, metadata, component.scopes, str(component.source)
                )
            elif component.block == "state":
                states[component.name] = StateSettings(
                    component.name,
                    metadata.get("keyPrefix", "appid"),
                    metadata.get("actorStateStore", "false").lower() == "true",
                    component.scopes,
                )
    return pubsubs, states


def _declarative(app: AppConfig, resources: ResourceSet) -> list[ActiveSubscription]:
    result = []
    for subscription in resources.subscriptions:
        if not subscription.applies_to(app.app_id):
            continue
        try:
            result.append(from_declarative(subscription, app.app_id))
        except SubscriptionError as exc:
            raise ResourceError(
                f"{subscription.source}: subscription {subscription.metadata.name!r}: {exc}"
            ) from None
    return result


def build_config(run_file: RunFile) -> SidecarConfig:
    """Everything the sidecar needs, checked; raises ResourceError on any problem."""
    _check_ports(run_file)
    sets = _resource_sets(run_file)
    apps: list[AppConfig] = []
    resiliencies: dict[tuple[Path, str], Resiliency] = {}
    configurations: dict[tuple[Path, str], Configuration] = {}
    for spec in run_file.apps:
        resources = sets[spec.app_id]
        configuration = _configuration(run_file, spec)
        visible = [c for c in resources.components if c.visible_to(spec.app_id)]
        assert spec.dapr_http_port is not None
        assert spec.dapr_grpc_port is not None
        app = AppConfig(
            spec,
            run_file.app_dir(spec),
            spec.dapr_http_port,
            spec.dapr_grpc_port,
            visible,
            _secret_stores(run_file, spec, visible, configuration),
            configuration,
        )
        app.declarative = _declarative(app, resources)
        apps.append(app)
        for res in resources.resiliencies:
            resiliencies[(res.source, res.metadata.name)] = res
        for config in resources.configurations:
            configurations[(config.source, config.metadata.name)] = config
    for config in configurations.values():
        log.info(
            "%s: Configuration %r found among the resources; like daprd, the sidecar applies a "
            "Configuration only to apps that name its file in configFilePath",
            config.source, config.metadata.name,
        )  # fmt: skip
    pubsubs, states = _shared_components(apps)
    return SidecarConfig(
        run_file,
        apps,
        pubsubs,
        states,
        list(resiliencies.values()),
        app_api_token=os.environ.get("APP_API_TOKEN") or None,
        api_token=os.environ.get("DAPR_API_TOKEN") or None,
    )
