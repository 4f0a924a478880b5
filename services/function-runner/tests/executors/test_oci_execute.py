"""``POST /execute`` of an OCI function, end to end: registry row -> Job on the fake
Kubernetes API -> the response the orchestrator gets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

NS = "wfb-jobs"


@pytest.fixture
async def runner(
    app_factory: Any, sqlite_url: str, kube: Any, tmp_path: Path
) -> AsyncIterator[Any]:
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    async with app_factory(sqlite_url, kubeconfig=str(kubeconfig), k8s_namespace=NS) as ac:
        created = await ac.client.post(
            "/functions",
            json={
                "slug": "custom/double",
                "name": "Double",
                "execution_type": "oci",
                "image_ref": "registry.example/functions/double:v1",
                "command": "python /app/handler.py",
                "resources": {"limits": {"memory": "256Mi"}},
                "timeout_seconds": 2,
                "input_schema": {
                    "type": "object",
                    "properties": {"value": {"type": "number"}},
                    "required": ["value"],
                },
            },
        )
        assert created.status_code == 201, created.text
        yield ac


def execute(slug: str = "custom/double", **input: Any) -> dict[str, Any]:
    return {
        "function_slug": slug,
        "execution_id": "exec-e2e",
        "workflow_id": "wf-1",
        "node_id": "double",
        "node_name": "Double",
        "input": input,
        "node_outputs": {},
    }


async def test_success_carries_job_and_pod_names(runner: Any, kube: Any) -> None:
    async def scenario(k: Any, job: dict[str, Any]) -> None:
        env = {
            e["name"]: e.get("value")
            for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        value = json.loads(env["INPUT"])["value"]
        await k.pod_terminated(
            k.pods_of(job)[0], exit_code=0, logs=f'{{"processed": {value * 2}}}\n'
        )

    kube.scenario = scenario
    response = await runner.client.post("/execute", json=execute(value=21))
    out = response.json()
    assert response.status_code == 200 and out["success"] is True, out
    assert out["data"] == {"processed": 42}
    job = kube.all("jobs")[0]
    assert out["job_name"] == job["metadata"]["name"]
    assert out["pod_name"] == kube.pods_of(job)[0]["metadata"]["name"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "/app/handler.py"]
    assert container["resources"]["limits"]["memory"] == "256Mi"
    assert job["spec"]["activeDeadlineSeconds"] == 2


async def test_a_failed_container_is_success_false_with_the_log_tail(
    runner: Any, kube: Any
) -> None:
    async def scenario(k: Any, job: dict[str, Any]) -> None:
        await k.pod_terminated(
            k.pods_of(job)[0], exit_code=2, logs="Traceback\nKeyError: 'value'\n"
        )

    kube.scenario = scenario
    out = (await runner.client.post("/execute", json=execute(value=1))).json()
    assert out["success"] is False
    assert out["error_code"] == "upstream"
    assert "exited with code 2" in out["error"] and "KeyError" in out["error"]
    assert out["job_name"] and out["pod_name"]


async def test_the_timeout_deletes_the_job(runner: Any, kube: Any) -> None:
    async def scenario(k: Any, job: dict[str, Any]) -> None:
        await k.pod_running(k.pods_of(job)[0])

    kube.scenario = scenario
    out = (await runner.client.post("/execute", json=execute(value=1))).json()
    assert out["success"] is False and out["error_code"] == "timeout", out
    assert kube.all("jobs") == [] and kube.all("pods") == []
    deletes = [b for m, p, _, b in kube.requests if m == "DELETE" and "/jobs/" in p]
    assert deletes and deletes[0]["propagationPolicy"] == "Background"


async def test_invalid_input_never_reaches_the_cluster(runner: Any, kube: Any) -> None:
    response = await runner.client.post("/execute", json=execute(value="x"))
    assert response.status_code in (200, 422)
    assert not [r for r in kube.requests if "/jobs" in r[1]]
