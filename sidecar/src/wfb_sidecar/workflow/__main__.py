"""Run only the workflow backend as its own process (crash tests and benchmarks).

    python -m wfb_sidecar.workflow --db PATH --port N --app-id ID

Prints ``ready <port>`` once it serves, and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import grpc

from . import GRPC_SERVER_OPTIONS, WorkflowBackend, add_TaskHubSidecarServiceServicer_to_server


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m wfb_sidecar.workflow")
    parser.add_argument("--db", type=Path, required=True, help="SQLite database file")
    parser.add_argument("--port", type=int, required=True, help="gRPC port on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    backend = WorkflowBackend(args.db, synchronous=args.synchronous)
    await backend.start()
    server = grpc.aio.server(options=GRPC_SERVER_OPTIONS)
    add_TaskHubSidecarServiceServicer_to_server(backend.servicer(args.app_id), server)
    port = server.add_insecure_port(f"{args.host}:{args.port}")
    await server.start()
    print(f"ready {port}", flush=True)  # noqa: T201 - the readiness line callers wait for
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await backend.stop()
    await server.stop(grace=2)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        import uvloop  # installed with uvicorn[standard]; a cheaper event loop for gRPC
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
