"""Dapr resources (Component, Configuration, Resiliency) in every set the platform ships.

kubernetes-validate has no schema for Dapr's custom resources, so this is the check:
a JSON Schema of our own per kind (the fields of Dapr's CRDs that this project uses, no
unknown ones), the metadata each component type requires, scopes and access-control
policies naming only real app-ids, resiliency targets pointing at defined policies, and
exactly one actor state store per deployment. The sets: `components/` (dapr run -f and the
local sidecar), compose's two (Redis or PostgreSQL actor store), and every kustomize
rendering.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest

# renders the overlays with kustomize and runs the pinned tools: processes, not in-process
pytestmark = pytest.mark.integration

NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"}
DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h))+$"}
STRING_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": NAME, "namespace": NAME, "labels": {"type": "object"}},
}

COMPONENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "dapr.io/v1alpha1"},
        "kind": {"const": "Component"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["type", "version", "metadata"],
            "properties": {
                "type": {"type": "string", "pattern": r"^[a-z]+\.[a-z0-9.-]+$"},
                "version": {"type": "string", "pattern": "^v[0-9]+$"},
                "ignoreErrors": {"type": "boolean"},
                "initTimeout": DURATION,
                "metadata": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            # Dapr reads every value as a string: a bare YAML true/1 is a bug
                            "value": {"type": "string"},
                            "secretKeyRef": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name", "key"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "key": {"type": "string"},
                                },
                            },
                        },
                        "oneOf": [{"required": ["value"]}, {"required": ["secretKeyRef"]}],
                    },
                },
            },
        },
        "auth": {
            "type": "object",
            "additionalProperties": False,
            "required": ["secretStore"],
            "properties": {"secretStore": {"type": "string"}},
        },
        "scopes": {**STRING_LIST, "minItems": 1},
    },
}

APP_POLICY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["appId", "defaultAction"],
    "properties": {
        "appId": {"type": "string"},
        "defaultAction": {"enum": ["allow", "deny"]},
        "trustDomain": {"type": "string"},
        "namespace": {"type": "string"},
        "operations": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "action"],
                "properties": {
                    "name": {"type": "string", "pattern": "^/"},
                    "httpVerb": {
                        "type": "array",
                        "items": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "*"]},
                    },
                    "action": {"enum": ["allow", "deny"]},
                },
            },
        },
    },
}

CONFIGURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "dapr.io/v1alpha1"},
        "kind": {"const": "Configuration"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tracing", "metrics"],
            "properties": {
                "tracing": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["samplingRate", "otel"],
                    "properties": {
                        "samplingRate": {"type": "string", "pattern": r"^(0|1|0?\.[0-9]+)$"},
                        "stdout": {"type": "boolean"},
                        "otel": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["endpointAddress", "isSecure", "protocol"],
                            "properties": {
                                "endpointAddress": {"type": "string", "pattern": r"^[^/]+:[0-9]+$"},
                                "isSecure": {"type": "boolean"},
                                "protocol": {"enum": ["http", "grpc"]},
                            },
                        },
                    },
                },
                "metrics": {
                    "type": "object",
                    "required": ["enabled"],
                    "properties": {"enabled": {"const": True}},
                },
                "logging": {"type": "object"},
                "secrets": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["scopes"],
                    "properties": {
                        "scopes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["storeName", "defaultAccess"],
                                "properties": {
                                    "storeName": {"type": "string"},
                                    "defaultAccess": {"enum": ["allow", "deny"]},
                                    "allowedSecrets": STRING_LIST,
                                    "deniedSecrets": STRING_LIST,
                                },
                            },
                        }
                    },
                },
                "accessControl": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["defaultAction", "policies"],
                    "properties": {
                        "defaultAction": {"enum": ["allow", "deny"]},
                        "trustDomain": {"type": "string"},
                        "policies": {"type": "array", "items": APP_POLICY},
                    },
                },
            },
        },
    },
}

RETRY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["policy", "maxRetries"],
    "properties": {
        "policy": {"enum": ["constant", "exponential"]},
        "duration": DURATION,
        "maxInterval": DURATION,
        "maxRetries": {"type": "integer", "minimum": -1},
        "matching": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "httpStatusCodes": {
                    "type": "string",
                    "pattern": r"^[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*$",
                },
                "gRPCStatusCodes": {"type": "string"},
            },
        },
    },
}
TARGET = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "timeout": {"type": "string"},
        "retry": {"type": "string"},
        "circuitBreaker": {"type": "string"},
        "circuitBreakerCacheSize": {"type": "integer"},
    },
}
RESILIENCY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec", "scopes"],
    "properties": {
        "apiVersion": {"const": "dapr.io/v1alpha1"},
        "kind": {"const": "Resiliency"},
        "metadata": METADATA,
        "scopes": {**STRING_LIST, "minItems": 1},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["policies", "targets"],
            "properties": {
                "policies": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "timeouts": {"type": "object", "additionalProperties": DURATION},
                        "retries": {"type": "object", "additionalProperties": RETRY},
                        "circuitBreakers": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["maxRequests", "timeout", "trip"],
                                "properties": {
                                    "maxRequests": {"type": "integer", "minimum": 1},
                                    "interval": DURATION,
                                    "timeout": DURATION,
                                    "trip": {
                                        "type": "string",
                                        "pattern": r"^consecutiveFailures\s*>=?\s*[0-9]+$",
                                    },
                                },
                            },
                        },
                    },
                },
                "targets": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "apps": {"type": "object", "additionalProperties": TARGET},
                        "actors": {"type": "object"},
                        "components": {"type": "object"},
                    },
                },
            },
        },
    },
}

SCHEMAS = {
    "Component": COMPONENT_SCHEMA,
    "Configuration": CONFIGURATION_SCHEMA,
    "Resiliency": RESILIENCY_SCHEMA,
}

# Metadata each component type cannot work without (Dapr's component reference).
REQUIRED_METADATA: dict[str, set[str]] = {
    "state.redis": {"redisHost"},
    "pubsub.redis": {"redisHost"},
    "state.postgresql": {"connectionString"},
    "state.sqlite": {"connectionString"},
    "state.in-memory": set(),
    "pubsub.in-memory": set(),
    "secretstores.local.file": {"secretsFile"},
    "secretstores.local.env": set(),
    "secretstores.kubernetes": set(),
}
ACTOR_CAPABLE = {"state.redis", "state.postgresql", "state.sqlite", "state.in-memory"}
VERSIONS = {"state.postgresql": {"v1", "v2"}}


def dapr_docs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if str(d.get("apiVersion", "")).startswith("dapr.io/")]


@pytest.fixture(scope="module")
def dapr_sets(
    repo: Path, yaml_docs: Any, renderings: dict[str, Any]
) -> dict[str, list[dict[str, Any]]]:
    def files(*patterns: str) -> list[dict[str, Any]]:
        docs = []
        for pattern in patterns:
            for path in sorted(repo.glob(pattern)):
                docs.extend(yaml_docs(path))
        return dapr_docs(docs)

    sets = {
        "components/": files("components/*.yaml"),
        "compose (redis)": files(
            "deploy/compose/components/common/*.yaml",
            "deploy/compose/components/redis/*.yaml",
            "components/resiliency.yaml",
        ),
        "compose (postgresql)": files(
            "deploy/compose/components/common/*.yaml",
            "deploy/compose/components/postgresql/*.yaml",
            "components/resiliency.yaml",
        ),
    }
    for name, rendering in renderings.items():
        sets[f"k8s {name}"] = dapr_docs(rendering.docs)
    return sets


def test_every_dapr_resource_matches_its_schema(dapr_sets: dict[str, list[dict[str, Any]]]) -> None:
    for set_name, docs in dapr_sets.items():
        assert docs, set_name
        for doc in docs:
            assert doc["kind"] in SCHEMAS, f"{set_name}: unexpected Dapr kind {doc['kind']}"
            try:
                jsonschema.validate(doc, SCHEMAS[doc["kind"]])
            except jsonschema.ValidationError as exc:
                pytest.fail(
                    f"{set_name}: {doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.absolute_path)}"
                )


def test_the_schema_rejects_what_dapr_would_reject() -> None:
    good = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "s"},
        "spec": {
            "type": "state.redis",
            "version": "v1",
            "metadata": [{"name": "redisHost", "value": "r:6379"}],
        },
        "scopes": ["a"],
    }
    jsonschema.validate(good, COMPONENT_SCHEMA)
    for broken in (
        {
            **good,
            "spec": {**good["spec"], "metadata": [{"name": "actorStateStore", "value": True}]},
        },
        {**good, "spec": {**good["spec"], "metdata": []}},
        {**good, "scopes": []},
        {**good, "spec": {**good["spec"], "metadata": [{"name": "x"}]}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, COMPONENT_SCHEMA)


def components(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == "Component"]


def meta(component: dict[str, Any]) -> dict[str, Any]:
    return {m["name"]: m for m in component["spec"]["metadata"]}


def test_components_have_the_metadata_their_type_requires(
    dapr_sets: dict[str, list[dict[str, Any]]],
) -> None:
    for set_name, docs in dapr_sets.items():
        for component in components(docs):
            kind = component["spec"]["type"]
            where = f"{set_name}: {component['metadata']['name']}"
            assert kind in REQUIRED_METADATA, f"{where}: unknown component type {kind}"
            missing = REQUIRED_METADATA[kind] - meta(component).keys()
            assert not missing, f"{where}: {kind} needs {missing}"
            assert component["spec"]["version"] in VERSIONS.get(kind, {"v1"}), where


def test_scopes_name_real_app_ids(
    dapr_sets: dict[str, list[dict[str, Any]]], app_ids: set[str]
) -> None:
    for set_name, docs in dapr_sets.items():
        for doc in docs:
            scopes = set(doc.get("scopes", []))
            assert scopes <= app_ids, (
                f"{set_name}: {doc['metadata']['name']} scopes {scopes - app_ids}"
            )
            if set_name.startswith(("k8s", "compose")) and doc["kind"] == "Component":
                assert scopes, f"{set_name}: {doc['metadata']['name']} is visible to every app"


def test_exactly_one_actor_state_store(dapr_sets: dict[str, list[dict[str, Any]]]) -> None:
    for set_name, docs in dapr_sets.items():
        stores = [
            c for c in components(docs) if meta(c).get("actorStateStore", {}).get("value") == "true"
        ]
        has_state = any(c["spec"]["type"].startswith("state.") for c in components(docs))
        if not has_state and set_name == "components/":
            continue  # the local-sidecar set may not be written yet
        assert len(stores) == 1, f"{set_name}: {len(stores)} actor state stores"
        assert stores[0]["spec"]["type"] in ACTOR_CAPABLE
        assert "workflow-orchestrator" in stores[0].get("scopes", ["workflow-orchestrator"])


def test_the_alternative_actor_stores(dapr_sets: dict[str, list[dict[str, Any]]]) -> None:
    def actor_store_type(set_name: str) -> str:
        (store,) = [c for c in components(dapr_sets[set_name]) if "actorStateStore" in meta(c)]
        return str(store["spec"]["type"])

    assert actor_store_type("compose (redis)") == "state.redis"
    assert actor_store_type("compose (postgresql)") == "state.postgresql"
    assert actor_store_type("k8s prod") == "state.redis"
    assert actor_store_type("k8s dev+postgresql-state-store") == "state.postgresql"
    for set_name in ("compose (redis)", "k8s dev", "k8s prod"):
        types = {c["spec"]["type"] for c in components(dapr_sets[set_name])}
        assert "pubsub.redis" in types, set_name
    assert "secretstores.kubernetes" in {
        c["spec"]["type"] for c in components(dapr_sets["k8s prod"])
    }


def test_secret_store_references_resolve(dapr_sets: dict[str, list[dict[str, Any]]]) -> None:
    for set_name, docs in dapr_sets.items():
        stores = {
            c["metadata"]["name"]
            for c in components(docs)
            if c["spec"]["type"].startswith("secretstores.")
        }
        if set_name.startswith("k8s"):
            stores.add("kubernetes")  # built into Dapr on Kubernetes
        for component in components(docs):
            uses_refs = any("secretKeyRef" in m for m in component["spec"]["metadata"])
            store = component.get("auth", {}).get("secretStore")
            if uses_refs and not set_name.startswith("k8s"):
                assert store, f"{set_name}: {component['metadata']['name']} needs auth.secretStore"
            if store:
                assert store in stores, f"{set_name}: unknown secret store {store}"


def _allows(policy: dict[str, Any], path: str, verb: str) -> bool:
    for operation in policy.get("operations", []):
        pattern = operation["name"].replace("/**", "/*")
        verbs = operation.get("httpVerb", ["*"])
        if (fnmatch.fnmatch(path, pattern) or path == operation["name"]) and (
            verb in verbs or "*" in verbs
        ):
            return bool(operation["action"] == "allow")
    return bool(policy["defaultAction"] == "allow")


def allowed_callers(config: dict[str, Any], path: str, verb: str, app_ids: set[str]) -> set[str]:
    control = config["spec"]["accessControl"]
    policies = {p["appId"]: p for p in control["policies"]}
    callers = set()
    for app in app_ids:
        if app in policies:
            if _allows(policies[app], path, verb):
                callers.add(app)
        elif control["defaultAction"] == "allow":
            callers.add(app)
    return callers


def test_access_control_in_kubernetes(
    dapr_sets: dict[str, list[dict[str, Any]]], app_ids: set[str]
) -> None:
    for set_name, docs in dapr_sets.items():
        if not set_name.startswith("k8s"):
            continue
        configs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Configuration"}
        assert set(configs) == app_ids, set_name
        for app, config in configs.items():
            control = config["spec"]["accessControl"]
            assert control["defaultAction"] == "deny", (set_name, app)
            assert {p["appId"] for p in control["policies"]} <= app_ids - {app}, (set_name, app)
            for policy in control["policies"]:
                assert policy["namespace"] == "workflow-builder"
        runner = configs["function-runner"]
        assert allowed_callers(runner, "/execute", "POST", app_ids) == {"workflow-orchestrator"}
        assert allowed_callers(runner, "/execute", "GET", app_ids) == set()
        assert allowed_callers(runner, "/functions", "GET", app_ids) == {
            "workflow-orchestrator",
            "builder-bff",
        }
        assert allowed_callers(runner, "/functions/system/http-request", "DELETE", app_ids) == set()
        assert allowed_callers(configs["builder-bff"], "/anything", "GET", app_ids) == set()
        assert "function-runner" not in allowed_callers(
            configs["admin-api"], "/api/v1/users", "GET", app_ids
        )


def test_access_control_evaluation_is_not_vacuous(app_ids: set[str]) -> None:
    """The evaluator used above denies and allows what Dapr would."""
    config = {
        "spec": {
            "accessControl": {
                "defaultAction": "deny",
                "policies": [
                    {
                        "appId": "builder-bff",
                        "defaultAction": "deny",
                        "operations": [
                            {"name": "/execute", "httpVerb": ["POST"], "action": "allow"}
                        ],
                    }
                ],
            }
        }
    }
    assert allowed_callers(config, "/execute", "POST", app_ids) == {"builder-bff"}
    config["spec"]["accessControl"]["defaultAction"] = "allow"
    assert allowed_callers(config, "/execute", "POST", app_ids) == app_ids


def test_tracing_and_metrics_everywhere(
    dapr_sets: dict[str, list[dict[str, Any]]], repo: Path, yaml_docs: Any
) -> None:
    for set_name, docs in dapr_sets.items():
        for config in (d for d in docs if d["kind"] == "Configuration"):
            assert config["spec"]["tracing"]["otel"]["endpointAddress"].endswith(":4318"), set_name
            assert config["spec"]["tracing"]["otel"]["protocol"] == "http"
    for path in ("components/config.yaml", "deploy/compose/dapr/config.yaml"):
        (config,) = yaml_docs(repo / path)
        jsonschema.validate(config, CONFIGURATION_SCHEMA)


def _resiliency(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == "Resiliency"]
    return found


def test_resiliency_targets_use_defined_policies(
    dapr_sets: dict[str, list[dict[str, Any]]], app_ids: set[str]
) -> None:
    for set_name, docs in dapr_sets.items():
        resiliency = _resiliency(docs)
        policies = resiliency["spec"]["policies"]
        apps = resiliency["spec"]["targets"]["apps"]
        assert set(apps) == {"function-runner", "admin-api"}, set_name
        assert set(apps) <= app_ids
        for app, target in apps.items():
            assert target["timeout"] in policies["timeouts"], (set_name, app)
            assert target["retry"] in policies["retries"], (set_name, app)
            assert target["circuitBreaker"] in policies["circuitBreakers"], (set_name, app)
        # function executions are not blindly retried: only "never reached the app" answers
        runner_retry = policies["retries"][apps["function-runner"]["retry"]]
        assert set(runner_retry["matching"]["httpStatusCodes"].split(",")) <= {"502", "503"}


def test_resiliency_is_the_same_in_every_mode(dapr_sets: dict[str, list[dict[str, Any]]]) -> None:
    reference = _resiliency(dapr_sets["components/"])
    for set_name, docs in dapr_sets.items():
        other = _resiliency(docs)
        assert other["spec"] == reference["spec"], set_name
        assert other["scopes"] == reference["scopes"], set_name


def test_kubernetes_deployments_reference_existing_configurations(
    renderings: dict[str, Any],
) -> None:
    for name, rendering in renderings.items():
        configs = {c["metadata"]["name"] for c in rendering.of_kind("Configuration", "dapr.io")}
        for deployment in rendering.of_kind("Deployment"):
            annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert annotations["dapr.io/config"] in configs, name


def test_function_credentials_come_from_their_own_namespace(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        stores = [
            c
            for c in rendering.of_kind("Component", "dapr.io")
            if c["spec"]["type"] == "secretstores.kubernetes"
        ]
        assert [s["scopes"] for s in stores] == [["function-runner"]], name
        assert meta(stores[0])["defaultNamespace"]["value"] == "workflow-builder-credentials"
        for config in rendering.of_kind("Configuration", "dapr.io"):
            scopes = {s["storeName"]: s for s in config["spec"]["secrets"]["scopes"]}
            assert scopes["kubernetes"]["defaultAccess"] == "deny", (name, config["metadata"])


def test_the_pubsub_is_the_one_workflow_definitions_name_by_default(
    dapr_sets: dict[str, list[dict[str, Any]]],
) -> None:
    from workflow_core.nodes import PublishEventConfig

    default = PublishEventConfig.model_fields["pubsub_name"].default
    for set_name, docs in dapr_sets.items():
        pubsubs = [
            c["metadata"]["name"]
            for c in components(docs)
            if c["spec"]["type"].startswith("pubsub.")
        ]
        if not pubsubs and set_name == "components/":
            continue  # the local-sidecar set may not be written yet
        assert default in pubsubs, f"{set_name}: publish-event nodes default to {default!r}"
