"""The same workload on DBOS (SQLite system database), the reference for bench-engine.

Runs in its own virtualenv (see the Makefile's ``bench-engine``); prints one JSON line.
    python chain.py --concurrency 8 --duration 15 --db /tmp/x.sqlite
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from typing import Any

from dbos import DBOS


@DBOS.step()
def validate(order: dict[str, Any]) -> dict[str, Any]:
    return {**order, "valid": True}


@DBOS.step()
def price(order: dict[str, Any]) -> dict[str, Any]:
    return {**order, "total": order["qty"] * 3}


@DBOS.step()
def confirm(order: dict[str, Any]) -> str:
    return f"order {order['id']} confirmed for {order['total']}"


@DBOS.workflow()
def chain3(order: dict[str, Any]) -> str:
    return confirm(price(validate(order)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(
        config={
            "name": "bench",
            "system_database_url": f"sqlite:///{args.db}",
            "log_level": "WARNING",
        }
    )
    DBOS.launch()
    latencies: list[float] = []  # of runs that finished inside the measured window
    lock = threading.Lock()
    start_measuring = time.monotonic() + args.warmup
    deadline = start_measuring + args.duration

    def client(n: int) -> None:
        i = 0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            t0 = time.perf_counter()
            result = chain3({"id": f"{n}-{i}", "qty": 2})
            elapsed = time.perf_counter() - t0
            assert result.endswith("confirmed for 6"), result
            i += 1
            if start_measuring <= time.monotonic() <= deadline:
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    DBOS.destroy()
    print(
        json.dumps({"completed": len(latencies), "duration": args.duration, "latencies": latencies})
    )


if __name__ == "__main__":
    main()
