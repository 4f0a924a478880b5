"""One truth for names, ports and settings across every way of running the platform.

The services' own code is the reference: each settings class (imported here) gives the
port, the env prefix, the variables it reads and the app-id; each pyproject.toml gives the
package, console script and version. dapr.yaml, compose.yaml, the kustomize renderings and
the Dockerfiles must agree with it, and every environment variable they set must be one a
settings class reads (a misspelt variable is silently ignored at run time, so it is caught
here).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

# renders the overlays with kustomize and runs the pinned tools: processes, not in-process
pytestmark = pytest.mark.integration

# Set for the process rather than read by the settings classes.
PROCESS_ENV = {"PATH", "HOME", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}


def expand(value: str) -> str:
    return re.sub(r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: m.group(2), str(value))


def k8s_env(rendering: Any, deployment: dict[str, Any]) -> dict[str, str | None]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        config = rendering.get("ConfigMap", source["configMapRef"]["name"])
        env.update(config["data"])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def test_dapr_run_file_matches_the_services(run_file: dict[str, Any], services: list[Any]) -> None:
    apps = {a["appID"]: a for a in run_file["apps"]}
    assert set(apps) == {s.app_id for s in services}
    for spec in services:
        app = apps[spec.app_id]
        assert app["appPort"] == spec.port
        assert app["appDirPath"] == f"./services/{spec.directory}"
        assert app["appHealthCheckPath"] == "/healthz"
        command = app["command"]
        assert command[command.index("--package") + 1] == spec.package
        assert command[-1] == spec.script
    ports = [p for a in apps.values() for p in (a["appPort"], a["daprHTTPPort"], a["daprGRPCPort"])]
    assert len(ports) == len(set(ports)), "dapr.yaml ports collide"
    assert run_file["common"]["configFilePath"] == "./components/config.yaml"


def test_compose_matches_the_services(compose: dict[str, Any], services: list[Any]) -> None:
    for spec in services:
        service = compose["services"][spec.directory]
        assert service["image"] == spec.image
        assert service["build"] == {
            "context": ".",
            "dockerfile": f"services/{spec.directory}/Dockerfile",
        }
        env = {k: expand(v) for k, v in service["environment"].items()}
        assert env["APP_PORT"] == str(spec.port)
        assert env[f"{spec.env_prefix}HOST"] == "0.0.0.0"
        assert env["WFB_MODE"] == "self-hosted"
        assert any(p.endswith(f":{spec.port}") for p in service["ports"])


def test_kubernetes_matches_the_services(renderings: dict[str, Any], services: list[Any]) -> None:
    for name, rendering in renderings.items():
        deployments = {d["metadata"]["name"]: d for d in rendering.of_kind("Deployment")}
        assert set(deployments) == {s.app_id for s in services}, name
        for spec in services:
            deployment = deployments[spec.app_id]
            template = deployment["spec"]["template"]
            annotations = template["metadata"]["annotations"]
            container = template["spec"]["containers"][0]
            assert annotations["dapr.io/app-id"] == spec.app_id
            assert annotations["dapr.io/app-port"] == str(spec.port)
            assert container["image"] == spec.image, name
            assert container["ports"] == [
                {"name": "http", "containerPort": spec.port, "protocol": "TCP"}
            ]
            env = k8s_env(rendering, deployment)
            assert env["APP_PORT"] == str(spec.port)
            assert env[f"{spec.env_prefix}HOST"] == "0.0.0.0"
            assert env["WFB_MODE"] == "kubernetes"
            service = rendering.get("Service", spec.app_id)
            assert service["spec"]["ports"][0]["port"] == spec.port


def test_the_dockerfiles_match_the_services(
    dockerfiles: dict[str, Any], services: list[Any]
) -> None:
    for spec in services:
        final = dockerfiles[spec.directory].final
        assert final.all("EXPOSE") == [str(spec.port)]
        assert final.env()["APP_PORT"] == str(spec.port)
        assert f"VERSION={spec.version}" in final.all("ARG")
        assert (
            final.labels()["org.opencontainers.image.title"] == f"workflow-builder-{spec.directory}"
        )


def _check_env(spec: Any, env: dict[str, Any], where: str) -> None:
    known = spec.env_names() | PROCESS_ENV
    unknown = set(env) - known
    assert not unknown, f"{where}: {spec.directory} does not read {sorted(unknown)}"


def test_every_variable_set_is_one_a_settings_class_reads(
    compose: dict[str, Any],
    renderings: dict[str, Any],
    dockerfiles: dict[str, Any],
    run_file: dict[str, Any],
    services: list[Any],
) -> None:
    for spec in services:
        _check_env(spec, compose["services"][spec.directory]["environment"], "compose.yaml")
        _check_env(spec, dockerfiles[spec.directory].final.env(), "Dockerfile")
        _check_env(spec, run_file["common"].get("env", {}), "dapr.yaml")
        for name, rendering in renderings.items():
            _check_env(
                spec, k8s_env(rendering, rendering.get("Deployment", spec.app_id)), f"k8s {name}"
            )


def test_the_check_above_notices_a_misspelt_variable(services: list[Any]) -> None:
    spec = next(s for s in services if s.has_field("database_url"))
    with pytest.raises(AssertionError, match="DATABSE_URL"):
        _check_env(spec, {f"{spec.env_prefix}DATABSE_URL": "x"}, "test")


def test_services_with_a_database_get_one_outside_embedded_mode(
    compose: dict[str, Any], renderings: dict[str, Any], services: list[Any]
) -> None:
    for spec in services:
        key = f"{spec.env_prefix}DATABASE_URL"
        migrate = f"{spec.env_prefix}MIGRATE_ON_STARTUP"
        compose_env = compose["services"][spec.directory]["environment"]
        if not spec.has_field("database_url"):
            assert key not in compose_env
            continue
        assert expand(compose_env[key]).startswith("postgresql://")
        assert compose_env[migrate] == "true"
        for name, rendering in renderings.items():
            deployment = rendering.get("Deployment", spec.app_id)
            container = deployment["spec"]["template"]["spec"]["containers"][0]
            entries = {e["name"]: e for e in container["env"]}
            assert "secretKeyRef" in entries[key]["valueFrom"], name
            assert entries[migrate]["value"] == "true"


def test_settings_accept_the_deployed_configuration(
    compose: dict[str, Any],
    renderings: dict[str, Any],
    services: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The services would start with what compose and Kubernetes give them: the settings
    classes parse it (types, modes, and no placeholder secrets outside embedded mode)."""

    def secret_value(key: str) -> str:  # what a secretKeyRef resolves to, by kind
        if key.endswith("_DATABASE_URL"):
            return "postgresql://u:p@postgresql:5432/db"
        if key.endswith("_REDIS_URL"):
            return "redis://:p@redis:6379/0"
        return "a-real-looking-value"

    for spec in services:
        sources = {
            "compose": {
                k: expand(v) for k, v in compose["services"][spec.directory]["environment"].items()
            }
        }
        for name, rendering in renderings.items():
            env = k8s_env(rendering, rendering.get("Deployment", spec.app_id))
            sources[f"k8s {name}"] = {
                k: v if v is not None else secret_value(k) for k, v in env.items()
            }
        for where, env in sources.items():
            with monkeypatch.context() as patch:
                for key, value in env.items():
                    patch.setenv(key, value)
                settings = spec.settings()
            assert settings.port == spec.port, where
            assert settings.host == "0.0.0.0", where
            assert settings.mode in {"self-hosted", "kubernetes"}, where
            assert str(settings.data_dir).startswith("/tmp/"), where
            if spec.has_field("database_url"):
                assert settings.database_url.startswith("postgresql://"), where


def test_prometheus_scrapes_every_service(repo: Any, services: list[Any], yaml_docs: Any) -> None:
    (config,) = yaml_docs(repo / "deploy/compose/prometheus.yaml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    apps = {
        target: group["labels"]["app_id"]
        for group in jobs["workflow-builder"]["static_configs"]
        for target in group["targets"]
    }
    assert apps == {f"{s.directory}:{s.port}": s.app_id for s in services}
    sidecars = {t for g in jobs["daprd"]["static_configs"] for t in g["targets"]}
    assert sidecars == {f"{s.directory}:9090" for s in services}
