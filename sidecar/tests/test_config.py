"""From the run file and resources to each app's configuration (unit)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfb_sidecar.config import build_config
from wfb_sidecar.resources import ResourceError
from wfb_sidecar.runfile import load_run_file

pytestmark = pytest.mark.unit


def component(
    name: str, type_: str, metadata: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": type_, "version": "v1", "metadata": metadata or []},
        **extra,
    }


def write(
    tmp_path: Path,
    apps: list[dict[str, Any]],
    resources: dict[str, list[dict[str, Any]]],
    common: dict[str, Any] | None = None,
) -> Path:
    for directory, docs in resources.items():
        (tmp_path / directory).mkdir(parents=True, exist_ok=True)
        (tmp_path / directory / "c.yaml").write_text(yaml.safe_dump_all(docs))
    run = {"version": 1, "common": common or {"resourcesPath": "./components"}, "apps": apps}
    (tmp_path / "dapr.yaml").write_text(yaml.safe_dump(run))
    return tmp_path / "dapr.yaml"


def app(app_id: str, base: int, **extra: Any) -> dict[str, Any]:
    return {
        "appID": app_id,
        "appDirPath": ".",
        "daprHTTPPort": base,
        "daprGRPCPort": base + 1,
        **extra,
    }


def test_metadata_from_a_secret_is_checked_like_a_literal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFB_TEST_RETENTION", "5m")
    (tmp_path / "s.json").write_text(json.dumps({"redis": {"password": "pw"}}))
    path = write(
        tmp_path,
        [app("a", 40000), app("b", 40010)],
        {
            "components": [
                component(
                    "secretstore",
                    "secretstores.local.file",
                    [{"name": "secretsFile", "value": "s.json"}],
                ),
                component(
                    "pubsub",
                    "pubsub.in-memory",
                    [
                        {"name": "unclaimedRetention", "envRef": "WFB_TEST_RETENTION"},
                        {"name": "backOffMaxRetries", "secretKeyRef": {"name": "redis:password"}},
                    ],
                    auth={"secretStore": "secretstore"},
                ),
                component(
                    "statestore",
                    "state.sqlite",
                    [{"name": "actorStateStore", "value": "true"}],
                    scopes=["a"],
                ),
            ]
        },
    )
    with pytest.raises(ResourceError, match="invalid back-off metadata"):
        build_config(load_run_file(path))  # the secret "pw" is not a number of retries


def test_secret_key_ref_and_env_ref_resolve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WFB_TEST_RETENTION", "5m")
    (tmp_path / "s.json").write_text(json.dumps({"retries": "7"}))
    path = write(
        tmp_path,
        [app("a", 40000), app("b", 40010)],
        {
            "components": [
                component(
                    "secretstore",
                    "secretstores.local.file",
                    [{"name": "secretsFile", "value": "s.json"}],
                ),
                component(
                    "pubsub",
                    "pubsub.in-memory",
                    [
                        {"name": "unclaimedRetention", "envRef": "WFB_TEST_RETENTION"},
                        {"name": "backOffMaxRetries", "secretKeyRef": {"name": "retries"}},
                    ],
                    auth={"secretStore": "secretstore"},
                ),
                component(
                    "statestore",
                    "state.sqlite",
                    [{"name": "actorStateStore", "value": "true"}],
                    scopes=["a"],
                ),
            ]
        },
    )
    config = build_config(load_run_file(path))
    pubsub = config.pubsubs["pubsub"]
    assert pubsub.retention_ms == 300_000
    assert pubsub.retry.max_retries == 7
    a, b = config.apps
    assert [c.name for c in a.components] == ["secretstore", "pubsub", "statestore"]
    assert [c.name for c in b.components] == ["secretstore", "pubsub"]
    assert config.state_stores["statestore"].actor_state_store


def test_per_app_resource_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [app("a", 40000), app("b", 40010, resourcesPaths=["./b-components", "./extra"])],
        {
            "components": [component("pubsub", "pubsub.in-memory")],
            "b-components": [component("pubsub", "pubsub.in-memory")],
            "extra": [component("env", "secretstores.local.env")],
        },
    )
    config = build_config(load_run_file(path))
    assert [c.name for c in config.apps[1].components] == ["pubsub", "env"]


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        ([{"appID": "a", "daprGRPCPort": 1}], "needs daprHTTPPort"),
        (
            [app("a", 40000), app("b", 40000)],
            "port 40000 (daprHTTPPort of 'b') is also daprHTTPPort of 'a'",
        ),
        (
            [app("a", 40000, appPort=40001)],
            "port 40001 (daprGRPCPort of 'a') is also appPort of 'a'",
        ),
        ([app("a", 40000, appProtocol="grpc")], "appProtocol 'grpc' is not supported"),
        ([app("a", 40000, configFilePath="missing.yaml")], "cannot read"),
    ],
)
def test_run_file_problems(tmp_path: Path, apps: list[dict[str, Any]], message: str) -> None:
    path = write(tmp_path, apps, {"components": [component("pubsub", "pubsub.in-memory")]})
    with pytest.raises(ResourceError, match=re.escape(message)):
        build_config(load_run_file(path))


def test_a_name_with_two_types_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [app("a", 40000), app("b", 40010, resourcesPath="./other")],
        {
            "components": [component("store", "secretstores.local.env")],
            "other": [component("store", "pubsub.in-memory")],
        },
    )
    with pytest.raises(
        ResourceError, match=r"is pubsub\.in-memory here but secretstores\.local\.env"
    ):
        build_config(load_run_file(path))


def test_the_repository_run_file_and_components_load(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    config = build_config(load_run_file(root / "dapr.yaml"))
    assert {a.app_id for a in config.apps} == {
        "workflow-orchestrator", "function-runner", "admin-api", "builder-bff",
    }  # fmt: skip
    assert set(config.pubsubs) == {"pubsub"}
    assert config.state_stores["statestore"].actor_state_store
    orchestrator = next(a for a in config.apps if a.app_id == "workflow-orchestrator")
    assert orchestrator.secrets.get("secretstore", "admin-api:jwt-signing-key")
    bff = next(a for a in config.apps if a.app_id == "builder-bff")
    assert "statestore" not in {c.name for c in bff.components}
