"""Benchmark: ``POST /execute`` of ``system/set`` against a real uvicorn process.

Starts the function runner (SQLite in a temp dir, free port), warms up, then keeps
``--concurrency`` requests in flight for ``--requests`` requests and prints requests/s
and latency percentiles.

    make bench-function-runner          # or: uv run python bench/function_runner/execute_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

from service_kit.testing import free_port

BODY = {
    "function_slug": "system/set",
    "execution_id": "bench-exec",
    "workflow_id": "bench-wf",
    "node_id": "set-1",
    "node_name": "Set",
    "input": {"values": {"hello": "world", "n": 1}},
    "node_outputs": {},
}


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"function runner exited with {proc.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("function runner did not become ready")


async def drive(base: str, total: int, concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await client.post("/execute", json=BODY)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or not response.json()["success"]:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "APP_PORT": str(port),
            "WFB_DATA_DIR": data_dir,
            "WFB_REQUIRE_SIDECAR": "false",
            "WFB_LOG_LEVEL": "WARNING",
            "FUNCTION_RUNNER_USE_SECRET_STORE": "false",
        }
        proc = subprocess.Popen([sys.executable, "-m", "function_runner"], env=env)  # noqa: ASYNC220 - started once, before measuring
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                await wait_ready(client, proc)
            await drive(base, args.warmup, args.concurrency)
            elapsed, latencies, failures = await drive(base, args.requests, args.concurrency)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"POST /execute system/set: {args.requests} requests, concurrency {args.concurrency}")
    print(f"  throughput: {args.requests / elapsed:,.0f} requests/s")
    print(
        f"  latency ms: p50 {percentile(latencies, 0.50) * 1000:.2f}  "
        f"p95 {percentile(latencies, 0.95) * 1000:.2f}  "
        f"p99 {percentile(latencies, 0.99) * 1000:.2f}  "
        f"mean {statistics.fmean(latencies) * 1000:.2f}"
    )
    print(f"  failures: {failures}")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
