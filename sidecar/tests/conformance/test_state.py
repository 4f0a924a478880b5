"""The basic state API on state.sqlite, over the SDK (gRPC) and HTTP."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
from dapr.clients.grpc._state import Concurrency, StateOptions

from wfb_sidecar.testing import AppPorts, SidecarProcess, dapr_settings

pytestmark = pytest.mark.integration

STORE = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "statestore"},
    "spec": {
        "type": "state.sqlite",
        "version": "v1",
        "metadata": [
            {"name": "connectionString", "value": "state.db"},
            {"name": "actorStateStore", "value": "true"},
        ],
    },
    "scopes": ["one", "two"],
}


class Platform:
    def __init__(self, sidecar: SidecarProcess) -> None:
        self.sidecar = sidecar

    @contextlib.contextmanager
    def client(self, app_id: str = "one") -> Iterator[DaprClient]:
        with dapr_settings(self.sidecar, app_id) as address, DaprClient(address=address) as client:
            yield client

    def url(self, app_id: str, path: str = "") -> str:
        return f"{self.sidecar.url(app_id)}/v1.0/state/statestore{path}"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    directory: Path = tmp_path_factory.mktemp("state")
    sidecar = SidecarProcess(
        directory,
        [AppPorts("one", None), AppPorts("two", None), AppPorts("outsider", None)],
        {"state.yaml": [STORE]},
    )
    sidecar.start()
    yield Platform(sidecar)
    sidecar.stop()


def test_save_get_delete_over_grpc(platform: Platform) -> None:
    with platform.client() as client:
        client.save_state("statestore", "k1", b"v1")
        got = client.get_state("statestore", "k1")
        assert got.data == b"v1"
        assert got.etag
        client.delete_state("statestore", "k1")
        assert client.get_state("statestore", "k1").data == b""


def test_etags_guard_concurrent_writes(platform: Platform) -> None:
    with platform.client() as client:
        client.save_state("statestore", "k2", b"first")
        etag = client.get_state("statestore", "k2").etag
        client.save_state("statestore", "k2", b"second", etag=etag)
        with pytest.raises(Exception, match="etag"):
            client.save_state("statestore", "k2", b"third", etag=etag)
        with pytest.raises(Exception, match="first-write"):
            client.save_state(
                "statestore", "k2", b"x", options=StateOptions(concurrency=Concurrency.first_write)
            )
        assert client.get_state("statestore", "k2").data == b"second"


def test_transaction_is_all_or_nothing(platform: Platform) -> None:
    with platform.client() as client:
        client.save_state("statestore", "t1", b"old")
        with pytest.raises(Exception, match="etag"):
            client.execute_state_transaction(
                "statestore",
                [
                    TransactionalStateOperation(key="t2", data=b"new"),
                    TransactionalStateOperation(
                        key="t1",
                        data=b"",
                        etag="wrong",
                        operation_type=TransactionOperationType.delete,
                    ),
                ],
            )
        assert client.get_state("statestore", "t2").data == b""
        client.execute_state_transaction(
            "statestore",
            [
                TransactionalStateOperation(key="t2", data=b"new"),
                TransactionalStateOperation(
                    key="t1", data=b"", operation_type=TransactionOperationType.delete
                ),
            ],
        )
        items = {i.key: i.data for i in client.get_bulk_state("statestore", ["t1", "t2"]).items}
        assert items == {"t1": b"", "t2": b"new"}


def test_http_json_values_bulk_and_ttl(platform: Platform) -> None:
    saved = httpx.post(
        platform.url("one"),
        json=[
            {"key": "h1", "value": {"n": 1}},
            {"key": "h2", "value": "text", "metadata": {"ttlInSeconds": "1"}},
        ],
    )
    assert saved.status_code == 204
    got = httpx.get(platform.url("one", "/h1"))
    assert got.json() == {"n": 1}
    assert got.headers["etag"]
    bulk = httpx.post(platform.url("one", "/bulk"), json={"keys": ["h1", "h2", "none"]}).json()
    assert [(b["key"], b.get("data")) for b in bulk] == [
        ("h1", {"n": 1}),
        ("h2", "text"),
        ("none", None),
    ]
    time.sleep(1.2)
    assert httpx.get(platform.url("one", "/h2")).status_code == 204
    wrong = httpx.delete(platform.url("one", "/h1"), headers={"if-match": "nope"})
    assert wrong.status_code == 409
    assert wrong.json()["errorCode"] == "ERR_STATE_SAVE"


def test_keys_are_private_to_each_app(platform: Platform) -> None:
    httpx.post(platform.url("one"), json=[{"key": "shared-name", "value": 1}])
    assert httpx.get(platform.url("two", "/shared-name")).status_code == 204
    with platform.client("two") as client:
        assert client.get_state("statestore", "shared-name").data == b""


def test_bad_requests_are_4xx(platform: Platform) -> None:
    assert httpx.post(platform.url("one"), content=b"{no").status_code == 400
    response = httpx.post(platform.url("one"), json=[{"key": "a", "value": 1, "bogus": 1}])
    assert response.status_code == 400
    assert "bogus" in response.json()["message"]
    scoped_out = httpx.get(f"{platform.sidecar.url('outsider')}/v1.0/state/statestore/x")
    assert scoped_out.status_code == 400
    assert scoped_out.json()["errorCode"] == "ERR_STATE_STORE_NOT_FOUND"
