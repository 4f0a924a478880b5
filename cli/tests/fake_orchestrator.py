"""A loopback fake of the orchestrator's v2 run API for ``wfb run`` / ``wfb approve``: a
real HTTP server in a thread, serving starts, statuses, approvals and an SSE stream that a
test can make drop (abruptly, mid-chunk) or close early."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeRun:
    events: list[dict[str, Any]]
    final: dict[str, Any]
    """The status once the stream has served the final event."""
    waiting_gate: str | None = None
    served_final: bool = False


@dataclass
class Orchestrator:
    token: str | None = "wfb_key"
    runs: dict[str, FakeRun] = field(default_factory=dict)
    script: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=lambda: {"runtimeStatus": "COMPLETED"})
    start_answer: tuple[int, dict[str, Any]] | None = None
    drops: list[int] = field(default_factory=list)
    """Per stream connection: abort after this many events (-1: close cleanly at once)."""
    starts: list[tuple[dict[str, Any], dict[str, str]]] = field(default_factory=list)
    stream_requests: list[str | None] = field(default_factory=list)  # Last-Event-ID of each
    answers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    endless: bool = False
    url: str = ""


def event(seq: int, kind: str, node: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "seq": seq,
        "instanceId": "run-1",
        "type": kind,
        "nodeId": node,
        "at": f"2026-01-01T00:00:{seq:02d}.000000+00:00",
        "data": data,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def fake(self) -> Orchestrator:
        return self.server.fake

    def send_json(self, status: int, body: Any, media: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def problem(self, status: int, detail: str, **extra: Any) -> None:
        body = {"title": "Error", "status": status, "detail": detail, **extra}
        self.send_json(status, body, "application/problem+json")

    def authorized(self) -> bool:
        if self.fake.token is None:
            return True
        if self.headers.get("Authorization") == f"Bearer {self.fake.token}":
            return True
        self.problem(401, "a bearer token or API key is required")
        return False

    def body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_POST(self) -> None:
        if not self.authorized():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["api", "v2", "workflows"]:
            body = self.body()
            self.fake.starts.append((body, dict(self.headers)))
            if self.fake.start_answer:
                status, answer = self.fake.start_answer
                self.send_json(status, answer, "application/problem+json")
                return
            self.fake.runs["run-1"] = FakeRun(list(self.fake.script), dict(self.fake.final))
            self.send_json(
                201,
                {
                    "instanceId": "run-1",
                    "workflowId": body["definition"]["id"],
                    "status": "started",
                },
            )
            return
        if len(parts) == 6 and parts[4] == "approvals":
            run = self.fake.runs.get(parts[3])
            if run is None:
                self.problem(404, f"run {parts[3]!r} not found")
                return
            if run.waiting_gate != parts[5]:
                self.problem(409, f"{parts[5]} is not waiting for an answer")
                return
            self.fake.answers.append((parts[3], parts[5], self.body()))
            run.waiting_gate = None
            self.send_json(202, {"accepted": True})
            return
        self.problem(404, "no such route")

    def do_GET(self) -> None:
        if not self.authorized():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        run = self.fake.runs.get(parts[3]) if len(parts) == 5 else None
        if run is None:
            self.problem(404, "run not found")
            return
        if parts[4] == "status":
            status = (
                {**run.final, "instanceId": parts[3]}
                if run.served_final
                else {"instanceId": parts[3], "runtimeStatus": "RUNNING", "phase": "running"}
            )
            self.send_json(200, status)
            return
        if parts[4] == "stream":
            self.stream(run)
            return
        self.problem(404, "no such route")

    def chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def stream(self, run: FakeRun) -> None:
        last = self.headers.get("Last-Event-ID")
        self.fake.stream_requests.append(last)
        drop = self.fake.drops.pop(0) if self.fake.drops else None
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.chunk("retry: 2000\n\n: hello\n\n")
        if drop == -1:
            self.wfile.write(b"0\r\n\r\n")
            return
        sent = 0
        for ev in run.events:
            if last is not None and ev["seq"] <= int(last):
                continue
            if drop is not None and sent == drop:
                self.wfile.write(b"5\r\nid: ")  # a torn chunk, then the connection goes
                self.wfile.flush()
                self.close_connection = True
                return
            self.chunk(f"id: {ev['seq']}\nevent: {ev['type']}\ndata: {json.dumps(ev)}\n\n")
            sent += 1
            if ev["type"].startswith("approval.requested"):
                run.waiting_gate = ev["nodeId"]
            if ev["type"] in ("run.completed", "run.failed", "run.terminated"):
                run.served_final = True
        if self.fake.endless:
            threading.Event().wait(3)  # nothing more: a run that keeps going
        self.wfile.write(b"0\r\n\r\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: Orchestrator


@contextmanager
def serve(fake: Orchestrator) -> Iterator[Orchestrator]:
    server = Server(("127.0.0.1", 0), Handler)
    server.fake = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
