"""``python -m wfb_sidecar --run-file dapr.yaml --data-dir .data``: the local sidecar.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 78 when the run file or a resource
file is unusable (fix the file; restarting cannot help), 1 when it cannot start
otherwise (a port in use, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

EXIT_CONFIG = 78
log = logging.getLogger("wfb_sidecar")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn", "uvicorn.error", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="wfb-sidecar", description="Local Dapr-compatible sidecar for every app of a run file"
    )
    parser.add_argument("--run-file", type=Path, default=Path("dapr.yaml"))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("WFB_DATA_DIR", ".data"))
    )
    parser.add_argument("--listen-address", default="127.0.0.1")
    parser.add_argument(
        "--max-body-size", type=int, default=4 * 1024 * 1024, help="bytes (publish, state)"
    )
    parser.add_argument("--log-level", default=os.environ.get("WFB_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("WFB_LOG_FORMAT", "text"),
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> int:
    from wfb_sidecar.config import build_config
    from wfb_sidecar.resources import ResourceError
    from wfb_sidecar.runfile import RunFileError, load_run_file
    from wfb_sidecar.runtime import Sidecar, StartupError

    try:
        config = build_config(load_run_file(args.run_file))
    except (RunFileError, ResourceError) as exc:
        log.error("cannot start: %s", exc)
        return EXIT_CONFIG
    sidecar = Sidecar(
        config,
        args.data_dir.resolve(),
        listen_address=args.listen_address,
        max_body_size=args.max_body_size,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal() -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log.warning("second signal: exiting now")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await sidecar.start()
    except ResourceError as exc:
        log.error("cannot start: %s", exc)
        await _quiet_stop(sidecar)
        return EXIT_CONFIG
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        await _quiet_stop(sidecar)
        return 1
    await stop.wait()
    log.info("stopping")
    await sidecar.stop()
    return 0


async def _quiet_stop(sidecar: object) -> None:
    from wfb_sidecar.runtime import Sidecar

    assert isinstance(sidecar, Sidecar)
    with contextlib.suppress(Exception):
        await sidecar.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
