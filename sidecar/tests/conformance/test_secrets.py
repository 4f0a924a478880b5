"""Secrets through the sidecar: local.file and local.env stores, scopes and policies."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from dapr.clients import DaprClient

from wfb_sidecar.testing import AppPorts, SidecarProcess, dapr_settings, wait_until

pytestmark = pytest.mark.integration

SECRETS = {
    "db": {"user": "admin", "password": "s3cret", "port": 5432, "replicas": ["a", "b"]},
    "api-key": "k-123",
    "flag": True,
}
MULTI = {"db": {"user": "admin", "conn": {"host": "h", "port": 1}}, "single": "value"}


def component(
    name: str, type_: str, scopes: list[str] | None = None, **metadata: str
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {
            "type": type_,
            "version": "v1",
            "metadata": [{"name": k, "value": v} for k, v in metadata.items()],
        },
    }
    if scopes:
        doc["scopes"] = scopes
    return doc


CONFIG = """
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: reader-config
spec:
  secrets:
    scopes:
      - storeName: secretstore
        defaultAccess: allow
        deniedSecrets: ["db:password"]
      - storeName: envstore
        defaultAccess: deny
        allowedSecrets: ["TOKEN"]
"""


class Platform:
    def __init__(self, sidecar: SidecarProcess, directory: Path) -> None:
        self.sidecar = sidecar
        self.directory = directory

    @contextlib.contextmanager
    def client(self, app_id: str) -> Iterator[DaprClient]:
        with dapr_settings(self.sidecar, app_id) as address, DaprClient(address=address) as client:
            yield client

    def get(self, app_id: str, path: str) -> httpx.Response:
        return httpx.get(f"{self.sidecar.url(app_id)}/v1.0/secrets/{path}")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    directory: Path = tmp_path_factory.mktemp("secrets")
    (directory / "secrets.json").write_text(json.dumps(SECRETS))
    (directory / "multi.json").write_text(json.dumps(MULTI))
    (directory / "reader.yaml").write_text(CONFIG)
    env = {"WFB_T_TOKEN": "t0k", "WFB_T_OTHER": "nope", "UNPREFIXED": "x"}
    sidecar = SidecarProcess(
        directory,
        [
            AppPorts("reader", None, extra={"configFilePath": "reader.yaml", "env": env}),
            AppPorts("free", None, extra={"env": env}),
        ],
        {
            "secrets.yaml": [
                component("secretstore", "secretstores.local.file", secretsFile="secrets.json"),
                component(
                    "multistore",
                    "secretstores.local.file",
                    secretsFile="multi.json",
                    multiValued="true",
                    nestedSeparator=".",
                ),
                component("envstore", "secretstores.local.env", prefix="WFB_T_"),
                component(
                    "scopedstore", "secretstores.local.file", ["free"], secretsFile="secrets.json"
                ),
            ]
        },
    )
    sidecar.start()
    yield Platform(sidecar, directory)
    sidecar.stop()


class TestLocalFile:
    def test_nested_keys_are_flattened(self, platform: Platform) -> None:
        with platform.client("free") as client:
            assert client.get_secret("secretstore", "db:user").secret == {"db:user": "admin"}
            assert client.get_secret("secretstore", "db:port").secret == {"db:port": "5432"}
            assert client.get_secret("secretstore", "db:replicas:1").secret == {
                "db:replicas:1": "b"
            }
            assert client.get_secret("secretstore", "flag").secret == {"flag": "true"}

    def test_multi_valued_store(self, platform: Platform) -> None:
        with platform.client("free") as client:
            assert client.get_secret("multistore", "db").secret == {
                "user": "admin",
                "conn.host": "h",
                "conn.port": "1",
            }
            assert client.get_secret("multistore", "single").secret == {"single": "value"}

    def test_bulk(self, platform: Platform) -> None:
        with platform.client("free") as client:
            bulk = client.get_bulk_secret("secretstore").secrets
        assert bulk["db:password"] == {"db:password": "s3cret"}
        assert bulk["api-key"] == {"api-key": "k-123"}
        assert len(bulk) == 7
        response = platform.get("free", "multistore/bulk")
        assert response.json() == {
            "db": {"user": "admin", "conn.host": "h", "conn.port": "1"},
            "single": {"single": "value"},
        }

    def test_missing_key(self, platform: Platform) -> None:
        response = platform.get("free", "secretstore/nope")
        assert response.status_code == 500
        assert response.json()["errorCode"] == "ERR_SECRET_GET"
        assert "nope" in response.json()["message"]

    def test_file_changes_are_picked_up(self, platform: Platform) -> None:
        path = platform.directory / "multi.json"
        path.write_text(json.dumps({**MULTI, "added": "later"}))
        wait_until(lambda: platform.get("free", "multistore/added").status_code == 200, 5)
        assert platform.get("free", "multistore/added").json() == {"added": "later"}
        path.write_text(json.dumps(MULTI))


class TestLocalEnv:
    def test_prefixed_variables(self, platform: Platform) -> None:
        with platform.client("free") as client:
            assert client.get_secret("envstore", "TOKEN").secret == {"TOKEN": "t0k"}
            bulk = client.get_bulk_secret("envstore").secrets
        assert bulk == {"TOKEN": {"TOKEN": "t0k"}, "OTHER": {"OTHER": "nope"}}

    def test_unknown_variable(self, platform: Platform) -> None:
        assert platform.get("free", "envstore/UNPREFIXED").status_code == 500


class TestPolicies:
    def test_denied_secret(self, platform: Platform) -> None:
        response = platform.get("reader", "secretstore/db:password")
        assert response.status_code == 403
        assert response.json()["errorCode"] == "ERR_PERMISSION_DENIED"
        with platform.client("reader") as client, pytest.raises(grpc.RpcError) as caught:
            client.get_secret("secretstore", "db:password")
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    def test_other_secrets_of_the_store_stay_readable(self, platform: Platform) -> None:
        with platform.client("reader") as client:
            assert client.get_secret("secretstore", "db:user").secret == {"db:user": "admin"}
            bulk = client.get_bulk_secret("secretstore").secrets
        assert "db:password" not in bulk
        assert "db:user" in bulk

    def test_allow_list_with_default_deny(self, platform: Platform) -> None:
        assert platform.get("reader", "envstore/TOKEN").json() == {"TOKEN": "t0k"}
        assert platform.get("reader", "envstore/OTHER").status_code == 403
        assert platform.get("reader", "envstore/bulk").json() == {"TOKEN": {"TOKEN": "t0k"}}

    def test_component_scopes(self, platform: Platform) -> None:
        response = platform.get("reader", "scopedstore/api-key")
        assert response.status_code == 401
        assert response.json()["errorCode"] == "ERR_SECRET_STORE_NOT_FOUND"
        assert platform.get("free", "scopedstore/api-key").json() == {"api-key": "k-123"}

    def test_unknown_store_over_grpc(self, platform: Platform) -> None:
        with platform.client("free") as client, pytest.raises(grpc.RpcError) as caught:
            client.get_secret("nostore", "x")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_secret_reads_are_counted(self, platform: Platform) -> None:
        metrics = httpx.get(f"{platform.sidecar.url('reader')}/metrics").text
        assert (
            'wfb_sidecar_secret_requests_total{app_id="reader",outcome="denied",store="secretstore"}'
            in metrics
        )
