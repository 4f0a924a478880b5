"""Opt-in: the OCI executor's happy path against a real cluster.

Runs only when ``KUBECONFIG`` is set (``pytest -m k8s_real``). The namespace
(``WFB_K8S_NAMESPACE``, default ``default``) must allow the caller to create Jobs and
Secrets and to read pods and their logs, and the cluster must be able to pull the image
(``WFB_K8S_TEST_IMAGE``, default ``busybox:1.36``).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

import httpx
import pytest

from function_runner.builtins.base import ExecutionContext, FunctionRecord
from function_runner.executors.oci import run_oci_function
from function_runner.settings import Settings

pytestmark = [
    pytest.mark.k8s_real,
    pytest.mark.skipif(
        not os.environ.get("KUBECONFIG"), reason="needs KUBECONFIG (a real cluster)"
    ),
]


async def test_happy_path_on_a_real_cluster(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        require_sidecar=False,
        kubeconfig=os.environ["KUBECONFIG"].split(os.pathsep)[0],
        k8s_namespace=os.environ.get("WFB_K8S_NAMESPACE", "default"),
    )
    function = FunctionRecord(
        id="real-1",
        slug="test/echo",
        name="Echo",
        plugin_id="test",
        version="1.0.0",
        execution_type="oci",
        image_ref=os.environ.get("WFB_K8S_TEST_IMAGE", "busybox:1.36"),
        command=[
            "sh",
            "-c",
            'echo starting; echo "{\\"node\\": \\"$NODE_ID\\", \\"key\\": \\"${apiKey:+set}\\"}"',
        ],
        timeout_seconds=120,
    )
    async with httpx.AsyncClient() as http:
        ctx = ExecutionContext(
            execution_id=f"real-{uuid.uuid4().hex[:8]}",
            workflow_id="wf-real",
            node_id="echo",
            node_name="Echo",
            attempt=1,
            credentials={"apiKey": "not-a-real-secret"},
            deadline=time.monotonic() + 180,
            http=http,
            safe_http=None,  # type: ignore[arg-type]
            settings=settings,
            log=logging.LoggerAdapter(logging.getLogger("test.oci.real")),
        )
        result = await run_oci_function(function, {"x": 1}, ctx)
    assert result.data == {"node": "echo", "key": "set"}
    assert result.pod_name
