"""The workflow backend behind each app's gRPC port of the sidecar process.

The backend's own conformance suite lives in ``tests/workflow``; this checks the wiring:
the SDK's WorkflowRuntime and DaprWorkflowClient work against ``python -m wfb_sidecar``
on the app's ``daprGRPCPort``, next to the Dapr API on the same server, with the
backend's metrics on the sidecar's ``/metrics``.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import dapr.ext.workflow as wf
import httpx
import pytest
from dapr.clients import DaprClient

from wfb_sidecar.runtime import load_workflow_module
from wfb_sidecar.testing import AppPorts, SidecarProcess, dapr_settings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(load_workflow_module() is None, reason="workflow backend not installed"),
]
logging.getLogger("durabletask-worker").setLevel(logging.WARNING)

PUBSUB = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Component",
    "metadata": {"name": "pubsub"},
    "spec": {"type": "pubsub.in-memory", "version": "v1"},
}


def shout(ctx: wf.WorkflowActivityContext, text: str) -> str:
    return text.upper()


def greet(ctx: wf.DaprWorkflowContext, name: str):  # type: ignore[no-untyped-def]
    loud = yield ctx.call_activity(shout, input=name)
    approved = yield ctx.wait_for_external_event("approve")
    return f"hello {loud} ({approved})"


def test_workflows_run_through_the_sidecar_process(tmp_path: Path) -> None:
    orchestrator = AppPorts("orchestrator", None)
    sidecar = SidecarProcess(
        tmp_path, [orchestrator, AppPorts("other", None)], {"p.yaml": [PUBSUB]}
    )
    sidecar.start()
    runtime = wf.WorkflowRuntime(host="127.0.0.1", port=str(orchestrator.grpc_port))
    runtime.register_workflow(greet)
    runtime.register_activity(shout)
    runtime.start()
    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(orchestrator.grpc_port))
    try:
        instance = f"wiring-{uuid.uuid4().hex[:8]}"
        client.schedule_new_workflow(greet, input="ada", instance_id=instance)
        client.wait_for_workflow_start(instance, timeout_in_seconds=20)
        client.raise_workflow_event(instance, "approve", data="yes")
        state = client.wait_for_workflow_completion(instance, timeout_in_seconds=30)
        assert state is not None
        assert state.runtime_status == wf.WorkflowStatus.COMPLETED
        assert state.serialized_output == '"hello ADA (yes)"'

        # The Dapr API is served on the same gRPC port.
        with dapr_settings(sidecar, "orchestrator") as address, DaprClient(address=address) as dapr:
            dapr.publish_event("pubsub", "t", "x")

        other = wf.DaprWorkflowClient(host="127.0.0.1", port=str(sidecar.apps["other"].grpc_port))
        try:
            assert other.get_workflow_state(instance) is None  # each app has its own workflows
        finally:
            other.close()

        metadata = httpx.get(f"{sidecar.url('orchestrator')}/v1.0/metadata").json()
        assert metadata["workflows"] == {"backend": "sqlite"}
        metrics = httpx.get(f"{sidecar.url('orchestrator')}/metrics").text
        assert "wfb_sidecar_pubsub_published_total" in metrics  # the sidecar's own metrics
        assert "wfb_sidecar_workflow_queue_depth" in metrics  # and the backend's, same registry
        assert sidecar.terminate() == 0
    finally:
        client.close()
        runtime.shutdown()
        sidecar.stop()
