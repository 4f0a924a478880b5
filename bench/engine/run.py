"""``make bench-engine``: the sidecar's workflow engine against DBOS, on this machine.

1. Throughput and latency of a chain of three activities at each concurrency: the
   backend (``python -m wfb_sidecar.workflow``, SQLite with synchronous=FULL), a worker
   process running the official Dapr SDK, and this process as N concurrent clients that
   each start a workflow and wait for its result. The same workload runs on DBOS (SQLite
   system database, its defaults: every step committed with fsync) in its own venv.
2. Memory: the backend's RSS with 10,000 runs waiting on an event.
3. Latency from raising that event to the run's completion, over a sample of them.

Everything runs on loopback, bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from service_kit.testing import free_port

HERE = Path(__file__).resolve().parent
DBOS_PYTHON = HERE / "dbos" / ".venv" / "bin" / "python"


def rss_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


class Processes:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.backend = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wfb_sidecar.workflow",
                "--db",
                str(workdir / "wf.db"),
                "--port",
                str(self.port),
                "--app-id",
                "bench",
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._wait_line(self.backend, "ready")
        self.worker = subprocess.Popen(
            [sys.executable, str(HERE / "worker.py"), str(self.port)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._wait_line(self.worker, "worker ready")

    @staticmethod
    def _wait_line(proc: subprocess.Popen[str], prefix: str) -> None:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(prefix):
            raise RuntimeError(f"process did not start: {line!r}")

    def stop(self) -> None:
        for proc in (self.worker, self.backend):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.worker, self.backend):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def chain_load(port: int, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    import dapr.ext.workflow as wf

    clients = [wf.DaprWorkflowClient(host="127.0.0.1", port=str(port)) for _ in range(concurrency)]
    latencies: list[float] = []
    lock = threading.Lock()
    start_measuring = time.monotonic() + warmup
    deadline = start_measuring + duration

    def run(n: int) -> None:
        client = clients[n]
        i = 0
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            iid = client.schedule_new_workflow(
                "chain3", input={"id": f"{concurrency}-{n}-{i}", "qty": 2}
            )
            state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
            elapsed = time.perf_counter() - t0
            if state is None or not (state.serialized_output or "").endswith('confirmed for 6"'):
                raise RuntimeError(f"run {iid} ended wrong: {state}")
            i += 1
            if start_measuring <= time.monotonic() <= deadline:
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    return summarize(latencies, duration)


def dbos_load(concurrency: int, duration: float, warmup: float, workdir: Path) -> dict[str, Any]:
    db = workdir / f"dbos-{concurrency}.sqlite"
    out = subprocess.run(
        [
            str(DBOS_PYTHON),
            str(HERE / "dbos" / "chain.py"),
            "--concurrency",
            str(concurrency),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--db",
            str(db),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + warmup + 300,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return summarize(data["latencies"], data["duration"])


def summarize(latencies: list[float], duration: float) -> dict[str, Any]:
    return {
        "completed": len(latencies),
        "wf_per_s": len(latencies) / duration,
        "act_per_s": 3 * len(latencies) / duration,
        "p50_ms": pct(latencies, 0.50) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
    }


def waiting_runs(port: int, backend_pid: int, count: int, sample: int) -> dict[str, Any]:
    """Start ``count`` runs that wait for an event, measure the backend's memory, then
    raise the event on ``sample`` of them and time each raise-to-completion."""
    import dapr.ext.workflow as wf

    client = wf.DaprWorkflowClient(host="127.0.0.1", port=str(port))
    ids = [f"wait-{i:05d}" for i in range(count)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda iid: client.schedule_new_workflow("approval", instance_id=iid), ids))
        list(pool.map(lambda iid: client.wait_for_workflow_start(iid, timeout_in_seconds=600), ids))
    started_in = time.perf_counter() - t0
    time.sleep(2)  # let the last turns settle
    rss, peak = rss_mb(backend_pid)

    latencies: list[float] = []
    lock = threading.Lock()

    def approve(iid: str) -> None:
        t = time.perf_counter()
        client.raise_workflow_event(iid, "approve", data={"approved": True})
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
        elapsed = time.perf_counter() - t
        if state is None or state.serialized_output != '{"approved": true}':
            raise RuntimeError(f"run {iid} ended wrong: {state}")
        with lock:
            latencies.append(elapsed)

    step = max(1, count // sample)
    chosen = ids[::step][:sample]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(approve, chosen))
    client.close()
    return {
        "count": count,
        "start_seconds": started_in,
        "rss_mb": rss,
        "peak_rss_mb": peak,
        "raised": len(latencies),
        "raise_p50_ms": pct(latencies, 0.5) * 1000,
        "raise_p99_ms": pct(latencies, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--raise-sample", type=int, default=2_000)
    parser.add_argument("--skip-dbos", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results: dict[str, Any] = {"sidecar": {}, "dbos": {}}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            # Interleaved, so both engines see the same machine (other load comes and goes).
            for c in args.concurrency:
                print(f"sidecar: chain of 3 activities, concurrency {c} ...", flush=True)
                results["sidecar"][c] = chain_load(procs.port, c, args.duration, args.warmup)
                if not args.skip_dbos:
                    print(f"dbos: chain of 3 steps, concurrency {c} ...", flush=True)
                    results["dbos"][c] = dbos_load(c, args.duration, args.warmup, workdir)
            print(f"sidecar: {args.waiting} runs waiting on an event ...", flush=True)
            results["waiting"] = waiting_runs(
                procs.port, procs.backend.pid, args.waiting, args.raise_sample
            )
        finally:
            procs.stop()

    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"Workflow engine benchmark ({os.cpu_count()} CPUs, {args.duration:.0f} s per run)")
    print("chain of 3 activities, N clients each starting a run and waiting for its result")
    header = f"{'engine':<10}{'conc':>6}{'wf/s':>10}{'act/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs DBOS':>10}"
    print(header)
    print("-" * len(header))
    for c in args.concurrency:
        ours = results["sidecar"][c]
        ref = results["dbos"].get(c)
        ratio = f"{ours['wf_per_s'] / ref['wf_per_s']:.2f}x" if ref and ref["wf_per_s"] else "-"
        for name, row, extra in (("sidecar", ours, ratio), ("dbos", ref, "")):
            if row is None:
                continue
            print(
                f"{name:<10}{c:>6}{row['wf_per_s']:>10.1f}{row['act_per_s']:>10.1f}"
                f"{row['p50_ms']:>10.1f}{row['p99_ms']:>10.1f}{extra:>10}"
            )
    w = results["waiting"]
    print()
    print(
        f"{w['count']} runs waiting on an event (started in {w['start_seconds']:.1f} s): "
        f"backend RSS {w['rss_mb']:.0f} MiB (peak {w['peak_rss_mb']:.0f} MiB; target < 300)"
    )
    print(
        f"raise-event -> completion over {w['raised']} of them, 8 at a time: "
        f"p50 {w['raise_p50_ms']:.1f} ms, p99 {w['raise_p99_ms']:.1f} ms (target < 100)"
    )
    if results["dbos"]:
        ratios = [
            results["sidecar"][c]["wf_per_s"] / results["dbos"][c]["wf_per_s"]
            for c in args.concurrency
            if results["dbos"].get(c)
        ]
        print(f"throughput vs DBOS: {', '.join(f'{r:.2f}x' for r in ratios)} (target >= 1.5x)")


if __name__ == "__main__":
    main()
