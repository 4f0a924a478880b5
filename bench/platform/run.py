"""``make bench-platform``: the orchestrator's v2 API on the local sidecar, end to end.

Starts the local sidecar, the real function-runner and the orchestrator as processes on
free ports (SQLite, embedded mode), then measures:

(a) runs/s through the v2 API for the shape n8n publishes its benchmark on
    (webhook trigger -> Set -> respond; ``examples/webhook-set-respond.json``), at
    concurrency 32: each client starts a run with ``?wait=`` and counts it when it has
    finished (target: >= 220 runs/s, n8n's published single-instance figure on a
    comparable 2-vCPU machine);
(b) a 10-node chain of builtin actions (``examples/ten-step-chain.json``): node
    executions/s and the per-node overhead p50/p99 — the time a node spends outside its
    function (run time minus the functions' own durations, per node) (target p50 <= 5 ms);
(c) start latency p50/p99 at an open-loop 100 starts/s (target p99 <= 50 ms).

Numbers are printed, never asserted: this machine is shared and 2-core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml

from service_kit.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bench-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Platform:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {
            name: free_port()
            for name in ("orch", "orch_http", "orch_grpc", "fr", "fr_http", "fr_grpc")
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['orch']}"

    def write_config(self) -> Path:
        components = self.root / "components"
        components.mkdir()
        resources = [
            {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "statestore"},
                "spec": {
                    "type": "state.sqlite",
                    "version": "v1",
                    "metadata": [
                        {"name": "connectionString", "value": str(self.root / "state.db")},
                        {"name": "actorStateStore", "value": "true"},
                    ],
                },
            },
            {
                "apiVersion": "dapr.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "pubsub"},
                "spec": {"type": "pubsub.in-memory", "version": "v1", "metadata": []},
            },
        ]
        (components / "components.yaml").write_text(yaml.safe_dump_all(resources))
        p = self.ports
        run_file = {
            "version": 1,
            "common": {"resourcesPath": "./components"},
            "apps": [
                {
                    "appID": "workflow-orchestrator",
                    "appDirPath": ".",
                    "appPort": p["orch"],
                    "daprHTTPPort": p["orch_http"],
                    "daprGRPCPort": p["orch_grpc"],
                    "command": ["true"],
                },
                {
                    "appID": "function-runner",
                    "appDirPath": ".",
                    "appPort": p["fr"],
                    "daprHTTPPort": p["fr_http"],
                    "daprGRPCPort": p["fr_grpc"],
                    "command": ["true"],
                },
            ],
        }
        path = self.root / "dapr.yaml"
        path.write_text(yaml.safe_dump(run_file))
        return path

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        run_file = self.write_config()
        p = self.ports
        common = {"WFB_LOG_LEVEL": "WARNING", "WFB_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
        sidecar = self.spawn(
            "sidecar",
            [
                sys.executable,
                "-m",
                "wfb_sidecar",
                "--run-file",
                str(run_file),
                "--data-dir",
                str(self.root / "sidecar"),
                "--log-level",
                "WARNING",
            ],
            common,
        )
        wait_http(
            f"http://127.0.0.1:{p['orch_http']}/v1.0/healthz", sidecar, self.root / "sidecar.log"
        )
        fr = self.spawn(
            "function-runner",
            [sys.executable, "-m", "function_runner"],
            {
                **common,
                "APP_PORT": str(p["fr"]),
                "DAPR_HTTP_PORT": str(p["fr_http"]),
                "DAPR_GRPC_PORT": str(p["fr_grpc"]),
                "WFB_DATA_DIR": str(self.root / "function-runner"),
            },
        )
        wait_http(f"http://127.0.0.1:{p['fr']}/readyz", fr, self.root / "function-runner.log")
        self.start_orchestrator()

    def start_orchestrator(self, **env: str) -> None:
        p = self.ports
        self.orchestrator = self.spawn(
            "orchestrator",
            [sys.executable, "-m", "orchestrator"],
            {
                "WFB_LOG_LEVEL": "WARNING",
                "WFB_LOG_FORMAT": "json",
                "PYTHONUNBUFFERED": "1",
                "APP_PORT": str(p["orch"]),
                "DAPR_HTTP_PORT": str(p["orch_http"]),
                "DAPR_GRPC_PORT": str(p["orch_grpc"]),
                "WFB_DATA_DIR": str(self.root / "orchestrator"),
                "ORCHESTRATOR_AUTH_MODE": "dev",
                "ORCHESTRATOR_DEV_TOKEN": TOKEN,
                "ORCHESTRATOR_MAX_ACTIVE_RUNS_PER_PROJECT": "100000",
                **env,
            },
        )
        wait_http(f"{self.url}/readyz", self.orchestrator, self.root / "orchestrator.log")

    def restart_orchestrator(self, **env: str) -> None:
        os.killpg(self.orchestrator.pid, signal.SIGTERM)
        self.orchestrator.wait(30)
        self.processes.remove(self.orchestrator)
        self.start_orchestrator(**env)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 300:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready\n{log.read_text()[-3000:]}")


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / name).read_text())
    return data


def session(url: str, connections: int) -> aiohttp.ClientSession:
    """The load generator's client. aiohttp, because httpx's async client tops out near
    230 requests/s on this machine: it would measure itself, not the platform."""
    return aiohttp.ClientSession(
        url,
        headers=AUTH,
        timeout=aiohttp.ClientTimeout(total=90),
        connector=aiohttp.TCPConnector(limit=connections),
    )


async def closed_loop(
    url: str, definition: dict[str, Any], concurrency: int, seconds: float, trigger: Any
) -> tuple[int, list[float], int]:
    """``concurrency`` clients, each starting a run with ?wait= and counting it when done."""
    done = 0
    failed = 0
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    body = {"definition": definition, "triggerData": trigger}
    async with session(url, concurrency * 2) as client:

        async def worker() -> None:
            nonlocal done, failed
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                async with client.post("/api/v2/workflows?wait=30", json=body) as response:
                    status = response.status
                    payload = await response.json() if status == 200 else None
                if payload is not None and payload["runtimeStatus"] == "COMPLETED":
                    done += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, latencies, failed


async def bench_n8n_shape(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    definition = example("webhook-set-respond.json")
    await closed_loop(url, definition, concurrency, 3, {"warm": True})  # warm-up
    started = time.perf_counter()
    done, latencies, failed = await closed_loop(url, definition, concurrency, seconds, {"order": 1})
    elapsed = time.perf_counter() - started
    return {
        "runs": done,
        "failed": failed,
        "seconds": round(elapsed, 1),
        "runs_per_s": round(done / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


async def _timelines(url: str, workflow_id: str, limit: int) -> list[dict[str, Any]]:
    async with session(url, 8) as client:
        async with client.get(
            "/api/v2/workflows",
            params={"workflowId": workflow_id, "status": "COMPLETED", "limit": str(limit)},
        ) as response:
            page = await response.json()
        found = []
        for item in page["items"]:
            async with client.get(f"/api/v2/workflows/{item['instanceId']}/timeline") as response:
                found.append(await response.json())
    return found


def _function_ms(node: dict[str, Any]) -> float:
    return float((node.get("output") or {}).get("duration_ms") or 0)


def _overheads(timelines: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Per action node: its time outside the function (``in_node``); per run: the run's
    time outside its functions divided by its nodes (``per_node``: includes the engine's
    turns between nodes)."""
    in_node: list[float] = []
    per_node: list[float] = []
    for timeline in timelines:
        nodes = [n for n in timeline["nodes"] if n["type"] != "trigger"]
        for node in nodes:
            if node["type"] == "action" and node["durationMs"] is not None:
                in_node.append(max(0.0, node["durationMs"] - _function_ms(node)))
        if timeline["startedAt"] and timeline["completedAt"] and nodes:
            run_ms = (
                datetime.fromisoformat(timeline["completedAt"])
                - datetime.fromisoformat(timeline["startedAt"])
            ).total_seconds() * 1000
            outside = run_ms - sum(_function_ms(n) for n in nodes)
            per_node.append(max(0.0, outside) / len(nodes))
    return in_node, per_node


async def bench_chain(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    """Throughput at ``concurrency``; the overhead per node, measured one run at a time
    (what the engine adds to a run, not the queueing of a saturated machine), and under
    that load for reference."""
    definition = example("ten-step-chain.json")
    nodes = len(definition["nodes"])
    sequential, _lat, _failed = await closed_loop(
        url, definition, 1, seconds / 2, {"payload": "one"}
    )
    alone = await _timelines(url, definition["id"], min(sequential, 50))
    in_node_alone, per_node_alone = _overheads(alone)
    await closed_loop(url, definition, concurrency, 3, {"payload": "warm"})
    started = time.perf_counter()
    done, _latencies, failed = await closed_loop(
        url, definition, concurrency, seconds, {"payload": "hello"}
    )
    elapsed = time.perf_counter() - started
    in_node_loaded, per_node_loaded = _overheads(await _timelines(url, definition["id"], 50))
    return {
        "runs": done,
        "failed": failed,
        "concurrency": concurrency,
        "node_executions_per_s": round(done * nodes / elapsed, 1),
        "alone_per_node_overhead_p50_ms": round(percentile(per_node_alone, 50), 2),
        "alone_per_node_overhead_p99_ms": round(percentile(per_node_alone, 99), 2),
        "alone_in_node_overhead_p50_ms": round(percentile(in_node_alone, 50), 2),
        "loaded_per_node_overhead_p50_ms": round(percentile(per_node_loaded, 50), 2),
        "loaded_in_node_overhead_p50_ms": round(percentile(in_node_loaded, 50), 2),
        "sampled_runs": len(alone),
    }


async def bench_start_latency(
    url: str, rate: float, seconds: float, definition: dict[str, Any], trigger: Any
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    body = {"definition": definition, "triggerData": trigger}
    async with session(url, 400) as client:

        async def one() -> None:
            nonlocal errors
            started = time.perf_counter()
            async with client.post("/api/v2/workflows", json=body) as response:
                await response.read()
                if response.status == 201:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        tasks = []
        begin = time.perf_counter()
        for i in range(int(rate * seconds)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return {
        "starts": len(latencies),
        "errors": errors,
        "rate_per_s": rate,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def report(results: dict[str, Any], key: str, label: str) -> None:
    results_line = json.dumps(results[key])
    print(f"{label}: {results_line}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--rate-seconds", type=float, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wfb-bench-platform-"))
    platform = Platform(root)
    print(f"starting the platform in {root} ...", flush=True)
    n8n = example("webhook-set-respond.json")
    one_action = example("ten-step-chain.json")
    one_action["nodes"] = one_action["nodes"][:2]
    one_action["edges"] = one_action["edges"][:1]
    one_action["id"] = "one-action"
    results: dict[str, Any] = {}
    try:
        platform.start()
        run = asyncio.run
        results["a_n8n_shape"] = run(bench_n8n_shape(platform.url, args.concurrency, args.seconds))
        report(results, "a_n8n_shape", "(a) n8n shape (instant run)")
        results["b_ten_node_chain"] = run(bench_chain(platform.url, 8, args.seconds))
        report(results, "b_ten_node_chain", "(b) 10-node chain")
        results["c_start_latency"] = run(
            bench_start_latency(platform.url, args.rate, args.rate_seconds, n8n, {})
        )
        report(results, "c_start_latency", "(c) start latency, n8n shape (instant run)")
        results["c_start_latency_engine"] = run(
            bench_start_latency(
                platform.url, args.rate, args.rate_seconds, one_action, {"payload": "x"}
            )
        )
        report(results, "c_start_latency_engine", "(c') start latency, one action (engine)")
        platform.restart_orchestrator(ORCHESTRATOR_INSTANT_RUNS="false")
        results["a_n8n_shape_engine"] = run(
            bench_n8n_shape(platform.url, args.concurrency, args.seconds)
        )
        report(results, "a_n8n_shape_engine", "(a') n8n shape through the engine")
    finally:
        platform.stop()
    print()
    b = results["b_ten_node_chain"]
    print("targets: (a) >= 220 runs/s   (b) per-node overhead p50 <= 5 ms   (c) start p99 <= 50 ms")
    print(
        f"         (a) {results['a_n8n_shape']['runs_per_s']} runs/s   "
        f"(b) p50 {b['alone_per_node_overhead_p50_ms']} ms per node of a run, "
        f"{b['alone_in_node_overhead_p50_ms']} ms inside a node   "
        f"(c) p99 {results['c_start_latency']['p99_ms']} ms"
    )
    print(
        f"   engine: (a') {results['a_n8n_shape_engine']['runs_per_s']} runs/s   "
        f"(c') p99 {results['c_start_latency_engine']['p99_ms']} ms"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "platform.json").write_text(json.dumps(results, indent=2))
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
