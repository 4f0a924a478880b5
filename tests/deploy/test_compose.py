"""compose.yaml: valid against the Compose specification, and wired as the design says.

Each service has a `daprd` sidecar container in its network namespace, configured for the
service's app-id and port; placement, scheduler, Redis and PostgreSQL are there with
health checks that `depends_on` conditions wait on; the observability stack is an opt-in
profile. The vendored schema is deploy/schemas/compose-spec.json (see its README).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.unit

SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
INFRA = {"postgres", "redis", "placement", "scheduler"}
OBSERVABILITY = {"otel-collector", "jaeger", "prometheus", "grafana"}


@pytest.fixture(scope="module")
def schema(repo: Path) -> dict[str, Any]:
    raw = (repo / "deploy/schemas/compose-spec.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "update deploy/schemas/README.md"
    data: dict[str, Any] = json.loads(raw)
    return data


def expand(value: str, **overrides: str) -> str:
    """Compose's ${VAR:-default} interpolation, with the defaults or given values."""
    return re.sub(
        r"\$\{([A-Z_]+):-([^}]*)\}", lambda m: overrides.get(m.group(1), m.group(2)), value
    )


def sidecar_args(service: dict[str, Any]) -> dict[str, list[str]]:
    command = service["command"]
    assert command[0] == "./daprd"
    args: dict[str, list[str]] = {}
    key = None
    for token in command[1:]:
        if token.startswith("--"):
            key = token[2:]
            args.setdefault(key, [])
        else:
            assert key is not None
            args[key].append(token)
    return args


def test_compose_validates_against_the_compose_specification(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(compose), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes(compose: dict[str, Any], schema: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["healthcheck"]["intervl"] = "5s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)
    broken = json.loads(json.dumps(compose))
    broken["services"]["orchestrator"]["depends_on"]["postgres"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft202012Validator)


def test_each_service_has_a_daprd_sidecar_in_its_network_namespace(
    compose: dict[str, Any], services: list[Any]
) -> None:
    defined = compose["services"]
    for spec in services:
        app = defined[spec.directory]
        sidecar = defined[f"{spec.directory}-dapr"]
        assert sidecar["image"].startswith("daprio/daprd:")
        assert sidecar["network_mode"] == f"service:{spec.directory}"
        assert sidecar["depends_on"][spec.directory]["condition"] == "service_started"
        args = sidecar_args(sidecar)
        assert args["app-id"] == [spec.app_id]
        assert args["app-port"] == [str(spec.port)]
        assert args["dapr-http-port"] == [app["environment"]["DAPR_HTTP_PORT"]]
        assert args["dapr-grpc-port"] == [app["environment"]["DAPR_GRPC_PORT"]]
        assert args["placement-host-address"] == ["placement:50005"]
        assert args["scheduler-host-address"] == ["scheduler:50006"]
        assert args["app-health-check-path"] == ["/healthz"]
        targets = {expand(v).split(":")[1] for v in sidecar["volumes"]}
        mounts = targets | {t.rsplit("/", 1)[0] for t in targets if t.endswith(".yaml")}
        assert set(args["resources-path"]) <= mounts
        assert args["config"][0].rsplit("/", 1)[0] in mounts
        assert "ports" not in sidecar, "a sidecar in another container's namespace cannot publish"


def test_sidecar_mounts_exist(compose: dict[str, Any], repo: Path) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            for store in ("redis", "postgresql"):
                source = expand(volume, WFB_ACTOR_STORE=store).split(":")[0]
                if source.startswith("./"):
                    assert (repo / source).exists(), f"{name}: {source} is missing"


def test_health_checks_and_dependency_conditions(compose: dict[str, Any]) -> None:
    defined = compose["services"]
    assert defined.keys() >= INFRA | OBSERVABILITY
    for name, service in defined.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in defined, f"{name} depends on unknown {dependency}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in defined[dependency] or dependency not in INFRA, (
                    f"{name} waits for {dependency} to be healthy, which has no health check"
                )
    for name in ("postgres", "redis"):
        assert defined[name]["healthcheck"]["test"]
    for name in ("orchestrator", "function-runner", "admin-api", "builder-bff"):
        depends = defined[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(defined[name]["healthcheck"]["test"])
    # the BFF opens once the services it calls are ready
    assert defined["builder-bff"]["depends_on"]["orchestrator"]["condition"] == "service_healthy"
    assert defined["builder-bff"]["depends_on"]["admin-api"]["condition"] == "service_healthy"


def test_observability_is_an_opt_in_profile(compose: dict[str, Any], repo: Path) -> None:
    for name, service in compose["services"].items():
        if name in OBSERVABILITY:
            assert service["profiles"] == ["observability"]
        else:
            assert "profiles" not in service, name
    dashboards = sorted((repo / "deploy/grafana/dashboards").glob("*.json"))
    assert len(dashboards) >= 2


def test_app_containers_are_hardened(compose: dict[str, Any], services: list[Any]) -> None:
    for spec in services:
        service = compose["services"][spec.directory]
        assert service["read_only"] is True
        assert service["user"] == "10001:10001"
        assert service["cap_drop"] == ["ALL"]
        assert "no-new-privileges:true" in service["security_opt"]
        assert any(t.startswith("/tmp") for t in service["tmpfs"])
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), "published on loopback only"


def test_each_database_url_has_its_database_and_role(compose: dict[str, Any], repo: Path) -> None:
    """Every service's DATABASE_URL names a role and database the init script creates, with
    the password the PostgreSQL container hands to the script."""
    postgres_env = compose["services"]["postgres"]["environment"]
    script = (repo / "deploy/compose/postgres/init-databases.sh").read_text()
    default_names = re.search(r"WFB_DATABASES:-([a-z_ ]+)\}", script)
    assert default_names is not None
    names = set(default_names.group(1).split())
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if not key.endswith("_DATABASE_URL"):
                continue
            url = make_url(expand(value))
            assert url.database in names and url.username == url.database, name
            password_var = f"{url.database.upper()}_DB_PASSWORD"
            assert f"${{{password_var}:-{url.password}}}" in value
            assert postgres_env[password_var] == f"${{{password_var}:-{url.password}}}"


def test_the_postgresql_actor_store_connects_to_its_database(compose: dict[str, Any]) -> None:
    env = compose["services"]["orchestrator-dapr"]["environment"]
    dsn = dict(part.split("=", 1) for part in env["WFB_DAPR_POSTGRESQL_CONNECTION"].split())
    assert (
        dsn["host"] == "postgres" and dsn["dbname"] == "dapr_state" and dsn["user"] == "dapr_state"
    )
    assert dsn["password"] == "${DAPR_STATE_DB_PASSWORD:-example-only-dapr-state}"


def test_compose_and_kubernetes_init_scripts_are_the_same_file(repo: Path) -> None:
    compose_script = (repo / "deploy/compose/postgres/init-databases.sh").read_bytes()
    assert (repo / "k8s/overlays/dev/postgres/init-databases.sh").read_bytes() == compose_script
