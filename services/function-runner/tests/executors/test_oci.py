"""The OCI executor against a stateful fake Kubernetes API on loopback.

Each test drives the Job's Pod the way kubelet and the Job controller would, and checks
what the executor created, what it returned, and what it cleaned up.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from function_runner.builtins.base import ExecutionContext, FunctionError, FunctionRecord
from function_runner.executors.oci import run_oci_function
from function_runner.executors.oci_spec import RUN_LABEL, RunIdentity, build_plan, job_name
from function_runner.settings import Settings

pytestmark = pytest.mark.integration

NS = "wfb-jobs"
CTX = Callable[..., ExecutionContext]


def function(**overrides: Any) -> FunctionRecord:
    values: dict[str, Any] = {
        "id": "fn-1",
        "slug": "custom/resize",
        "name": "Resize",
        "plugin_id": "custom",
        "version": "1.2.0",
        "execution_type": "oci",
        "image_ref": "registry.example/functions/resize:v1",
        "command": ["python", "/app/handler.py"],
        "working_dir": "/app",
        "container_env": {"MODE": "fast"},
        "resources": {"limits": {"memory": "256Mi"}},
        "timeout_seconds": 30,
        "integration_type": "custom",
    }
    values.update(overrides)
    return FunctionRecord(**values)


def succeed_with(logs: str) -> Any:
    async def scenario(kube: Any, job: dict[str, Any]) -> None:
        pod = kube.pods_of(job)[0]
        await kube.pod_running(pod)
        await kube.pod_terminated(pod, exit_code=0, logs=logs)

    return scenario


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def deletes(kube: Any, kind: str) -> list[dict[str, Any]]:
    return [
        body or {}
        for method, path, _, body in kube.requests
        if method == "DELETE" and f"/{kind}/" in path
    ]


class TestHappyPath:
    async def test_result_is_the_last_json_line(self, kube: Any, make_ctx: CTX) -> None:
        kube.scenario = succeed_with(
            'starting\n{"progress": 50}\nnot json {\n{"width": 640, "ok": true}\n\n'
        )
        ctx = make_ctx(credentials={"apiKey": "sk-secret-value", "region": "eu"})
        result = await run_oci_function(function(), {"url": "https://x/img.png", "n": 2}, ctx)

        assert result.data == {"width": 640, "ok": True}
        assert result.job_name == job_name("exec-1234", "resize-image", 1)
        job = kube.get("jobs", NS, result.job_name)
        assert job is not None, "a finished job stays until its TTL"
        assert result.pod_name == kube.pods_of(job)[0]["metadata"]["name"]

    async def test_job_spec(self, kube: Any, make_ctx: CTX) -> None:
        kube.scenario = succeed_with('{"ok": 1}\n')
        ctx = make_ctx(credentials={"apiKey": "sk-secret-value", "api-region": "eu"})
        result = await run_oci_function(function(), {"n": 2}, ctx)
        job = kube.get("jobs", NS, result.job_name)
        meta, spec = job["metadata"], job["spec"]
        pod = spec["template"]["spec"]
        (container,) = pod["containers"]

        assert len(meta["name"]) <= 63
        assert meta["labels"] == {
            "app.kubernetes.io/managed-by": "function-runner",
            "app.kubernetes.io/component": "oci-function",
            RUN_LABEL: meta["name"],
            "workflow-builder.io/execution-id": "exec-1234",
            "workflow-builder.io/workflow-id": "wf-42",
            "workflow-builder.io/node-id": "resize-image",
            "workflow-builder.io/attempt": "1",
            "workflow-builder.io/function": "custom.resize",
        }
        assert spec["template"]["metadata"]["labels"] == meta["labels"]
        assert meta["annotations"]["workflow-builder.io/function-version"] == "1.2.0"
        assert spec["backoffLimit"] == 0
        assert spec["activeDeadlineSeconds"] == 30
        assert spec["ttlSecondsAfterFinished"] == 300
        assert pod["restartPolicy"] == "Never"
        assert pod["automountServiceAccountToken"] is False
        assert pod["enableServiceLinks"] is False
        assert pod["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert container["securityContext"] == {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
        assert container["image"] == "registry.example/functions/resize:v1"
        assert container["command"] == ["python", "/app/handler.py"]
        assert container["workingDir"] == "/app"
        assert container["resources"] == {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "256Mi"},
        }
        env = env_of(job)
        assert json.loads(env["INPUT"]) == {"n": 2}
        assert env["EXECUTION_ID"] == "exec-1234"
        assert env["WORKFLOW_ID"] == "wf-42"
        assert env["NODE_ID"] == "resize-image"
        assert env["NODE_NAME"] == "Resize Image"
        assert env["MODE"] == "fast"
        assert env["apiKey"] == {"secretKeyRef": {"name": meta["name"], "key": "apiKey"}}
        assert env["api_region"] == {"secretKeyRef": {"name": meta["name"], "key": "api_region"}}
        # the credentials are nowhere in the Job itself
        assert "sk-secret-value" not in json.dumps(job)

    async def test_secret_is_owned_by_the_job_and_deleted_after(
        self, kube: Any, make_ctx: CTX
    ) -> None:
        seen: dict[str, Any] = {}

        async def scenario(k: Any, job: dict[str, Any]) -> None:
            # the executor owner-references the Secret right after creating the Job
            secret = await k.wait_for(
                lambda: (
                    (s := k.get("secrets", NS, job["metadata"]["name"]))
                    and s["metadata"].get("ownerReferences")
                    and s
                )
            )
            seen["secret"] = secret
            seen["job_uid"] = job["metadata"]["uid"]
            await succeed_with('{"done": true}\n')(k, job)

        kube.scenario = scenario
        result = await run_oci_function(function(), {}, make_ctx(credentials={"apiKey": "sk-1"}))

        secret = seen["secret"]
        assert base64.b64decode(secret["data"]["apiKey"]).decode() == "sk-1"
        assert secret["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": result.job_name,
                "uid": seen["job_uid"],
                "blockOwnerDeletion": False,
                "controller": False,
            }
        ]
        assert kube.get("secrets", NS, result.job_name) is None, "deleted once the run is over"

    async def test_no_secret_without_credentials(self, kube: Any, make_ctx: CTX) -> None:
        kube.scenario = succeed_with('{"ok": 1}\n')
        await run_oci_function(function(), {}, make_ctx())
        assert not [r for r in kube.requests if "/secrets" in r[1]]

    async def test_large_input_is_mounted_from_the_secret(self, kube: Any, make_ctx: CTX) -> None:
        kube.scenario = succeed_with('{"ok": 1}\n')
        big = {"blob": "x" * 100_000}
        result = await run_oci_function(function(), big, make_ctx())
        job = kube.get("jobs", NS, result.job_name)
        env = env_of(job)
        assert "INPUT" not in env
        assert env["INPUT_FILE"] == "/var/run/workflow-builder/input/input.json"
        secret_post = next(
            body
            for method, path, _, body in kube.requests
            if method == "POST" and "/secrets" in path
        )
        assert json.loads(secret_post["stringData"]["input.json"]) == big
        volume = next(v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "input")
        assert volume["secret"]["secretName"] == result.job_name

    async def test_too_large_input_is_refused_before_anything_is_created(
        self, kube: Any, make_ctx: CTX
    ) -> None:
        with pytest.raises(FunctionError, match="at most") as err:
            await run_oci_function(function(), {"blob": "x" * 900_000}, make_ctx())
        assert err.value.code == "validation"
        assert kube.requests == []


async def test_the_trace_context_reaches_the_container(kube: Any, make_ctx: CTX) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    kube.scenario = succeed_with('{"ok": 1}\n')
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("execute") as span:
        result = await run_oci_function(function(), {}, make_ctx())
        trace_id = format(span.get_span_context().trace_id, "032x")
    env = env_of(kube.get("jobs", NS, result.job_name))
    assert env["TRACEPARENT"].split("-")[1] == trace_id


class TestReattach:
    async def _create_existing(self, kube: Any, ctx: ExecutionContext) -> dict[str, Any]:
        run = RunIdentity("exec-1234", "wf-42", "resize-image", "Resize Image", 1)
        plan = build_plan(function(), {}, run, {}, ctx.settings)
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {kube.token}"}) as http:
            response = await http.post(
                f"{kube.url}/apis/batch/v1/namespaces/{NS}/jobs", json=plan.job
            )
        assert response.status_code == 201
        return response.json()

    async def test_a_retried_activity_attaches_to_the_running_job(
        self, kube: Any, make_ctx: CTX
    ) -> None:
        ctx = make_ctx()
        job = await self._create_existing(kube, ctx)
        run = asyncio.create_task(run_oci_function(function(), {}, ctx))
        await kube.wait_for(lambda: kube.watch_requests >= 2)
        (pod,) = kube.pods_of(job)
        await kube.pod_terminated(pod, exit_code=0, logs='{"from": "first job"}\n')
        result = await run

        assert result.data == {"from": "first job"}
        assert result.job_name == job["metadata"]["name"]
        assert kube.job_creates == 1, "no second job was started"
        assert len(kube.all("pods")) == 1

    async def test_attaches_to_a_job_that_already_finished(self, kube: Any, make_ctx: CTX) -> None:
        ctx = make_ctx()
        job = await self._create_existing(kube, ctx)
        (pod,) = kube.pods_of(job)
        await kube.pod_terminated(pod, exit_code=0, logs='{"answer": 42}\n')

        result = await run_oci_function(function(), {}, ctx)
        assert result.data == {"answer": 42}
        assert kube.job_creates == 1

    async def test_another_attempt_gets_its_own_job(self, kube: Any, make_ctx: CTX) -> None:
        kube.scenario = succeed_with('{"ok": 1}\n')
        first = await run_oci_function(function(), {}, make_ctx(attempt=1))
        second = await run_oci_function(function(), {}, make_ctx(attempt=2))
        assert first.job_name != second.job_name
        assert kube.job_creates == 2

    async def test_a_foreign_job_with_the_same_name_is_a_conflict(
        self, kube: Any, make_ctx: CTX
    ) -> None:
        ctx = make_ctx()
        name = job_name("exec-1234", "resize-image", 1)
        foreign = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": {"app": "other"}},
            "spec": {
                "template": {
                    "metadata": {},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "x", "image": "busybox"}],
                    },
                }
            },
        }
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {kube.token}"}) as http:
            await http.post(f"{kube.url}/apis/batch/v1/namespaces/{NS}/jobs", json=foreign)
        with pytest.raises(FunctionError, match="belongs to something else") as err:
            await run_oci_function(function(), {}, ctx)
        assert err.value.code == "conflict"


async def _fail(kube: Any, ctx: ExecutionContext, drive: Any, **fn: Any) -> FunctionError:
    async def scenario(k: Any, job: dict[str, Any]) -> None:
        await drive(k, job, k.pods_of(job)[0])

    kube.scenario = scenario
    with pytest.raises(FunctionError) as err:
        await run_oci_function(function(**fn), {}, ctx)
    return err.value


class TestFailures:
    async def test_image_not_found(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_waiting(
                pod, "ErrImagePull", 'manifest for "x:v9" not found: manifest unknown'
            )

        error = await _fail(kube, make_ctx(credentials={"apiKey": "k"}), drive)
        assert error.code == "not_found"
        assert "could not be pulled (ErrImagePull)" in error.message
        assert "manifest unknown" in error.message
        assert error.details["job_name"] and error.details["pod_name"]
        assert deletes(kube, "jobs") == [
            {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        ], "a job that can never start is deleted"
        assert kube.all("jobs") == [] and kube.all("pods") == [] and kube.all("secrets") == []

    async def test_image_pull_backoff_unauthorized(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_waiting(pod, "ImagePullBackOff", "pull access denied: unauthorized")

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "forbidden"
        assert "ImagePullBackOff" in error.message

    async def test_invalid_image_name(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_waiting(pod, "InvalidImageName", 'couldn\'t parse image name "UPPER:case"')

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "validation"

    async def test_container_config_error(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_waiting(pod, "CreateContainerConfigError", 'secret "x" not found')

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "validation"
        assert 'secret "x" not found' in error.message

    async def test_oom_killed(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_terminated(pod, exit_code=137, reason="OOMKilled", logs="loading 2GB\n")

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "upstream"
        assert "ran out of memory (OOMKilled)" in error.message
        assert error.details["reason"] == "OOMKilled"
        assert error.details["logTail"] == "loading 2GB"
        assert kube.all("jobs"), "a job that ran is kept for inspection until its TTL"

    async def test_non_zero_exit_carries_the_log_tail(self, kube: Any, make_ctx: CTX) -> None:
        logs = "".join(f"line {i}\n" for i in range(50)) + "Traceback\nValueError: bad size\n"

        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_terminated(pod, exit_code=3, logs=logs)

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "upstream"
        assert error.message.startswith("the container exited with code 3")
        assert "ValueError: bad size" in error.message
        assert error.details["exitCode"] == 3
        assert error.details["logTail"].endswith("ValueError: bad size")
        assert "line 10\n" not in error.details["logTail"], "only the tail"

    async def test_deadline_exceeded(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_running(pod)
            await k.job_deadline_exceeded(job)

        error = await _fail(kube, make_ctx(), drive, timeout_seconds=7)
        assert error.code == "timeout"
        assert "deadline of 7 s (DeadlineExceeded)" in error.message

    async def test_evicted(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_running(pod)
            await k.pod_evicted(pod, "The node was low on resource: memory.")

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "upstream"
        assert error.retryable is True
        assert "evicted" in error.message and "low on resource" in error.message

    async def test_unschedulable(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_unschedulable(pod, "0/3 nodes are available: 3 Insufficient memory.")

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "upstream"
        assert error.retryable is True
        assert "could not be scheduled" in error.message
        assert "Insufficient memory" in error.message
        assert kube.all("jobs") == []

    async def test_success_without_a_json_line(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_terminated(pod, exit_code=0, logs="done, no json\n")

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "upstream"
        assert "wrote no JSON line" in error.message
        assert error.details["logTail"] == "done, no json"

    async def test_job_deleted_while_running(self, kube: Any, make_ctx: CTX) -> None:
        async def drive(k: Any, job: Any, pod: Any) -> None:
            await k.pod_running(pod)
            await k.remove("jobs", NS, job["metadata"]["name"])

        error = await _fail(kube, make_ctx(), drive)
        assert error.code == "upstream"
        assert "deleted" in error.message

    async def test_reserved_container_env_is_refused(self, kube: Any, make_ctx: CTX) -> None:
        with pytest.raises(FunctionError, match="may not set 'INPUT'"):
            await run_oci_function(function(container_env={"INPUT": "x"}), {}, make_ctx())
        assert kube.requests == []


class TestTimeoutAndCancellation:
    async def test_timeout_deletes_the_job_and_secret(self, kube: Any, make_ctx: CTX) -> None:
        async def scenario(k: Any, job: dict[str, Any]) -> None:
            await k.pod_running(k.pods_of(job)[0])

        kube.scenario = scenario
        with pytest.raises(FunctionError) as err:
            await run_oci_function(
                function(), {}, make_ctx(timeout=0.6, credentials={"apiKey": "k"})
            )
        assert err.value.code == "timeout"
        assert deletes(kube, "jobs") == [
            {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        ]
        assert kube.all("jobs") == [] and kube.all("pods") == [] and kube.all("secrets") == []

    async def test_cancellation_deletes_the_job_and_secret(self, kube: Any, make_ctx: CTX) -> None:
        running = asyncio.Event()

        async def scenario(k: Any, job: dict[str, Any]) -> None:
            await k.pod_running(k.pods_of(job)[0])
            running.set()

        kube.scenario = scenario
        task = asyncio.create_task(
            run_oci_function(function(), {}, make_ctx(credentials={"apiKey": "k"}))
        )
        await running.wait()
        await kube.wait_for(lambda: kube.watch_requests >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [d.get("propagationPolicy") for d in deletes(kube, "jobs")] == ["Background"]
        assert kube.all("jobs") == [] and kube.all("secrets") == []


class TestWatch:
    async def test_expired_watches_are_relisted(self, kube: Any, make_ctx: CTX) -> None:
        async def scenario(k: Any, job: dict[str, Any]) -> None:
            pod = k.pods_of(job)[0]
            await k.wait_for(lambda: k.watch_requests >= 2)
            await k.pod_running(pod)
            lists = k.list_requests
            await k.expire_watches()
            await k.wait_for(lambda: k.list_requests >= lists + 2)
            await k.pod_terminated(pod, exit_code=0, logs='{"after": "relist"}\n')

        kube.scenario = scenario
        result = await run_oci_function(function(), {}, make_ctx())
        assert result.data == {"after": "relist"}
        assert kube.list_requests >= 4

    async def test_watch_reconnects_after_the_server_closes_it(
        self, kube: Any, make_ctx: CTX, oci_settings: Settings
    ) -> None:
        settings = oci_settings.model_copy(update={"oci_watch_timeout_seconds": 1})

        async def scenario(k: Any, job: dict[str, Any]) -> None:
            await k.wait_for(lambda: k.watch_requests >= 4, within=10)
            await k.pod_terminated(k.pods_of(job)[0], exit_code=0, logs='{"late": 1}\n')

        kube.scenario = scenario
        result = await run_oci_function(function(), {}, make_ctx(settings=settings))
        assert result.data == {"late": 1}


class TestApiAccess:
    async def test_rejected_credentials(self, kube: Any, make_ctx: CTX, tmp_path: Path) -> None:
        kube.token = "rotated"
        with pytest.raises(FunctionError) as err:
            await run_oci_function(function(), {}, make_ctx())
        assert err.value.code == "auth"
        assert "401" in err.value.message

    async def test_not_configured(
        self, make_ctx: CTX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
        settings = Settings(data_dir=tmp_path, require_sidecar=False)
        with pytest.raises(FunctionError, match="Kubernetes is not configured"):
            await run_oci_function(function(), {}, make_ctx(settings=settings))
