"""``python -m wfb_sidecar --run-file dapr.yaml --data-dir .data``: the local sidecar.

Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 78 when the run file or a resource
file is unusable (fix the file; restarting cannot help), 1 when it cannot start
otherwise (a port in use, ...) or when a part of it did not stop in time (the log names
it). A stop never takes longer than ``STOP_DEADLINE_S``: past that (the event loop is
blocked, say) ``faulthandler`` dumps every thread's stack to stderr ("Timeout (0:00:22)!")
and exits with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import logging
import os
import signal
import sys
from pathlib import Path

EXIT_CONFIG = 78
EXIT_UNCLEAN = 1
# Within the 25 s grace ``wfb dev`` gives the sidecar, and above the sum of the bounded
# steps of ``Sidecar.stop()`` (19 s).
STOP_DEADLINE_S = 22.0
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

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log.warning("second signal (%s): exiting now", sig.name)
            _exit_now(EXIT_UNCLEAN)
        log.info("stopping (%s)", sig.name)
        _arm_watchdog()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
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
    await sidecar.stop()  # the watchdog stays armed: it also covers the interpreter's exit
    if sidecar.left_behind:
        # Do not wait for them: the interpreter's own shutdown would (their tasks, threads).
        _exit_now(EXIT_UNCLEAN)
    return 0


def _exit_now(code: int) -> None:
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)


def _arm_watchdog() -> None:
    """If the stop is not over in ``STOP_DEADLINE_S`` even with its bounded steps (the
    event loop is blocked), show where every thread is and exit. faulthandler's watchdog
    is a C thread: it needs neither the event loop nor the interpreter lock."""
    try:
        faulthandler.dump_traceback_later(STOP_DEADLINE_S, exit=True)
    except (AttributeError, OSError, ValueError):  # no usable stderr (tests, pythonw)
        log.debug("no stop watchdog: stderr has no file descriptor")


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
