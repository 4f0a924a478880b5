"""The sidecar process: health, metadata, metrics, API token, startup errors, shutdown."""

from __future__ import annotations

import contextlib
import re
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from dapr.clients import DaprClient
from starlette.responses import Response

from wfb_sidecar.testing import AppPorts, SidecarProcess, TinyApp, dapr_settings, wait_until

pytestmark = pytest.mark.integration

PUBSUB = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "pubsub"},
    "spec": {"type": "pubsub.in-memory", "version": "v1"},
}


def test_health_metadata_and_metrics(tmp_path: Path) -> None:
    app = TinyApp(subscriptions=[{"pubsubname": "pubsub", "topic": "t", "route": "/t"}]).start()
    sidecar = SidecarProcess(tmp_path, [AppPorts("svc", app.port)], {"pubsub.yaml": [PUBSUB]})
    try:
        sidecar.start()
        base = sidecar.url("svc")
        assert httpx.get(f"{base}/v1.0/healthz").status_code == 204
        assert httpx.get(f"{base}/v1.0/healthz/outbound").status_code == 204
        mismatch = httpx.get(f"{base}/v1.0/healthz?appid=other")
        assert mismatch.json()["errorCode"] == "ERR_HEALTH_APPID_NOT_MATCH"
        assert httpx.put(f"{base}/v1.0/metadata/cliPID", content=b"42").status_code == 204
        doc = httpx.get(f"{base}/v1.0/metadata").json()
        assert doc["id"] == "svc"
        assert doc["components"] == [
            {"name": "pubsub", "type": "pubsub.in-memory", "version": "v1", "capabilities": ["TTL"]}
        ]
        assert doc["extended"]["cliPID"] == "42"
        assert doc["appConnectionProperties"]["port"] == app.port
        with dapr_settings(sidecar, "svc") as address, DaprClient(address=address) as client:
            client.set_metadata("owner", "tests")
            assert client.get_metadata().extended_metadata["owner"] == "tests"
        metrics = httpx.get(f"{base}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "wfb_sidecar_pubsub_queue_depth" in metrics.text
        assert sidecar.terminate() == 0  # a clean stop on SIGTERM
        assert "sidecar stopped" in sidecar.logs()
    finally:
        sidecar.stop()
        app.stop()


def test_api_token_is_required_when_configured(tmp_path: Path) -> None:
    sidecar = SidecarProcess(
        tmp_path, [AppPorts("svc", None)], {"pubsub.yaml": [PUBSUB]}, env={"DAPR_API_TOKEN": "tok"}
    )
    try:
        sidecar.start()
        base = sidecar.url("svc")
        assert httpx.get(f"{base}/v1.0/healthz").status_code == 204
        assert httpx.get(f"{base}/v1.0/metadata").status_code == 401
        assert (
            httpx.get(f"{base}/v1.0/metadata", headers={"dapr-api-token": "tok"}).status_code == 200
        )
        with (
            dapr_settings(sidecar, "svc", DAPR_API_TOKEN="tok") as address,
            DaprClient(address=address) as client,
        ):
            client.publish_event("pubsub", "t", "x")
        with (
            dapr_settings(sidecar, "svc", DAPR_API_TOKEN="wrong") as address,
            DaprClient(address=address) as client,
            pytest.raises(Exception, match="dapr-api-token"),
        ):
            client.publish_event("pubsub", "t", "x")
    finally:
        sidecar.stop()


def _start_failing(
    tmp_path: Path, resources: dict[str, Any], apps: list[AppPorts] | None = None
) -> tuple[int, str]:
    sidecar = SidecarProcess(tmp_path, apps or [AppPorts("svc", None)], resources)
    sidecar.start(wait=False)
    assert sidecar.proc is not None
    code = sidecar.proc.wait(30)
    return code, sidecar.logs()


def test_an_unsupported_component_type_stops_startup(tmp_path: Path) -> None:
    redis = {**PUBSUB, "spec": {"type": "pubsub.redis", "version": "v1"}}
    code, logs = _start_failing(tmp_path, {"redis.yaml": [redis]})
    assert code == 78
    assert "pubsub.redis" in logs
    assert str(tmp_path / "components" / "redis.yaml") in logs


def test_a_broken_routing_rule_stops_startup(tmp_path: Path) -> None:
    subscription = {
        "apiVersion": "dapr.io/v2alpha1",
        "kind": "Subscription",
        "metadata": {"name": "bad"},
        "spec": {
            "pubsubname": "pubsub",
            "topic": "t",
            "routes": {"rules": [{"match": "event.type ==", "path": "/x"}]},
        },
    }
    code, logs = _start_failing(tmp_path, {"pubsub.yaml": [PUBSUB], "sub.yaml": [subscription]})
    assert code == 78
    assert "sub.yaml" in logs
    assert "does not parse" in logs


def test_a_missing_secrets_file_stops_startup(tmp_path: Path) -> None:
    store = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "secretstore"},
        "spec": {
            "type": "secretstores.local.file",
            "version": "v1",
            "metadata": [{"name": "secretsFile", "value": "missing.json"}],
        },
    }
    code, logs = _start_failing(tmp_path, {"secrets.yaml": [store]})
    assert code == 78
    assert "missing.json does not exist" in logs


def test_a_port_in_use_is_reported(tmp_path: Path) -> None:
    with contextlib.closing(socket.socket()) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        apps = [AppPorts("svc", None, http_port=port)]
        code, logs = _start_failing(tmp_path, {"pubsub.yaml": [PUBSUB]}, apps)
    assert code == 1
    assert f"127.0.0.1:{port} (daprHTTPPort of svc)" in logs


def test_sigterm_while_the_app_is_down_with_work_pending_stops_cleanly(tmp_path: Path) -> None:
    """The shutdown ``wfb dev`` does: the app stops first, with a delivery waiting to be
    retried, a job waiting for the app and a streaming subscription open; then SIGTERM."""
    app = TinyApp(subscriptions=[{"pubsubname": "pubsub", "topic": "t", "route": "/t"}]).start()
    app.handlers["/t"] = lambda _: Response(status_code=500)  # retried until the app is gone
    sidecar = SidecarProcess(tmp_path, [AppPorts("svc", app.port)], {"pubsub.yaml": [PUBSUB]})
    try:
        sidecar.start()
        base = sidecar.url("svc")
        wait_until(lambda: "app svc subscriptions: pubsub/t" in sidecar.logs(), 30)
        assert httpx.post(f"{base}/v1.0/publish/pubsub/t", json={"n": 1}).status_code == 204
        wait_until(lambda: app.received("/t"), 30)
        job = httpx.post(f"{base}/v1.0-alpha1/jobs/soon", json={"dueTime": "1s"})
        assert job.status_code == 204
        with (
            dapr_settings(sidecar, "svc") as address,
            DaprClient(address=address) as client,
        ):
            stream = client.subscribe("pubsub", "streamed")
            try:
                wait_until(lambda: "opened a streaming subscription" in sidecar.logs(), 30)
                app.stop()
                wait_until(lambda: re.search(r"app svc is (down|unreachable)", sidecar.logs()), 30)
                assert sidecar.terminate() == 0  # raises TimeoutExpired if the stop hangs
            finally:
                stream.close()
        logs = sidecar.logs()
        assert "stopping (SIGTERM)" in logs
        assert "sidecar stopped" in logs
        assert "did not stop" not in logs, logs
        assert "not cleanly" not in logs, logs
    finally:
        sidecar.stop()
        app.stop()
