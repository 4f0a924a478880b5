"""``wfb run`` and ``wfb approve``: talk to a running platform's orchestrator (v2 API).

The orchestrator serves the run API directly (``make run`` puts it on port 8080): start a
run with ``POST /api/v2/workflows``, follow ``GET /api/v2/workflows/{id}/stream`` (Server-Sent
Events, resumed with ``Last-Event-ID`` after a dropped connection), answer approvals with
``POST /api/v2/workflows/{id}/approvals/{nodeId}``. Credentials: an API key of a project
(``wfb_...``; the run lands in the key's project) or a user's access token with a project.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
"""The orchestrator's port in dapr.yaml, where ``wfb dev`` / ``make run`` serves it."""
V2 = "/api/v2/workflows"
TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED"})
FINAL_EVENTS = frozenset({"run.completed", "run.failed", "run.terminated"})

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PLATFORM = 3
EXIT_STILL_RUNNING = 124
"""``--wait-timeout`` ran out while the run was still going (as timeout(1) does)."""


class CliError(Exception):
    """A failure to report on stderr and exit with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    url: str
    token: str | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class SseEvent:
    id: str | None = None
    event: str = "message"
    data: str = ""


def parse_sse(lines: Iterator[str]) -> Iterator[SseEvent]:
    """Server-Sent Events from a line iterator (the WHATWG event-stream format)."""
    current = SseEvent()
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if line == "":
            if data:
                current.data = "\n".join(data)
                yield current
            current, data = SseEvent(), []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            current.event = value
        elif name == "id" and "\0" not in value:
            current.id = value


def problem_text(response: httpx.Response) -> str:
    """The detail of an RFC 9457 problem (with field errors), or the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return str(body)[:300]
    text = str(body.get("detail") or body.get("title") or body)
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            where = error.get("pointer") or error.get("field") or error.get("nodeId") or ""
            text += f"\n  {where}: {error.get('message')}"
    return text


def refused(response: httpx.Response, what: str) -> CliError:
    status = response.status_code
    detail = problem_text(response)
    if status == 401:
        return CliError(
            f"{what}: the platform wants credentials ({detail}); set WFB_TOKEN to an API key "
            "(see `wfb run --help`)",
            EXIT_USAGE,
        )
    if status >= 500:
        return CliError(f"{what}: the platform failed (HTTP {status}): {detail}", EXIT_PLATFORM)
    return CliError(f"{what}: HTTP {status}: {detail}", EXIT_USAGE)


@dataclass
class Follower:
    """Follows one run's event stream to its end, reconnecting where it stopped."""

    client: httpx.Client
    target: Target
    instance_id: str
    emit: Callable[[dict[str, Any]], None]
    deadline: float | None = None
    max_retries: int = 8
    sleep: Callable[[float], None] = time.sleep
    last_event_id: str | None = None
    reconnects: int = field(default=0, init=False)

    def run(self) -> dict[str, Any]:
        """Stream until the run ends; return its final status."""
        failures = 0
        while True:
            self._check_deadline()
            try:
                ended = self._stream_once()
                failures = 0
            except (httpx.TransportError, httpx.StreamError) as exc:
                failures += 1
                if failures > self.max_retries:
                    raise CliError(
                        f"lost the event stream of {self.instance_id} {failures} times in a row "
                        f"({type(exc).__name__}); the run goes on: `wfb run` can be started "
                        "again or the run watched in the builder",
                        EXIT_PLATFORM,
                    ) from None
                self.sleep(min(0.25 * 2**failures, 5.0))
                self.reconnects += 1
                continue
            status = self.status()
            if status.get("runtimeStatus") in TERMINAL:
                return status
            # the stream closed early, or the final event came a moment before the status
            self.sleep(0.2 if ended else 0.5)
            self.reconnects += 1

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise CliError(
                f"run {self.instance_id} is still going after --wait-timeout; "
                "it continues on the platform",
                EXIT_STILL_RUNNING,
            )

    def _read_timeout(self) -> float | None:
        if self.deadline is None:
            return 60.0  # the orchestrator sends a keepalive every 15 s
        return max(0.1, min(60.0, self.deadline - time.monotonic()))

    def _stream_once(self) -> bool:
        """One connection; True when it delivered the run's final event."""
        headers = {**self.target.headers(), "Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        timeout = httpx.Timeout(10, read=self._read_timeout())
        url = f"{self.target.url}{V2}/{self.instance_id}/stream"
        try:
            with self.client.stream("GET", url, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise refused(response, f"following run {self.instance_id}")
                for sse in parse_sse(response.iter_lines()):
                    final = self._handle(sse)
                    if final:
                        return True
        except httpx.ReadTimeout:
            self._check_deadline()
            raise
        return False

    def _handle(self, sse: SseEvent) -> bool:
        try:
            event = json.loads(sse.data)
        except ValueError:
            return False
        if not isinstance(event, dict):
            return False
        if sse.id:
            self.last_event_id = sse.id
        self.emit(event)
        return event.get("type") in FINAL_EVENTS

    def status(self) -> dict[str, Any]:
        url = f"{self.target.url}{V2}/{self.instance_id}/status"
        response = request(self.client, "GET", url, headers=self.target.headers())
        if response.status_code != 200:
            raise refused(response, f"reading the status of {self.instance_id}")
        body = response.json()
        return body if isinstance(body, dict) else {}


def request(client: httpx.Client, method: str, url: str, **kw: Any) -> httpx.Response:
    """One call; connection failures become a clear error naming the URL."""
    try:
        return client.request(method, url, **kw)
    except httpx.TimeoutException:
        raise CliError(f"{url} did not answer in time", EXIT_PLATFORM) from None
    except httpx.TransportError as exc:
        raise CliError(
            f"cannot reach the platform at {url} ({type(exc).__name__}); is it running "
            "(`make run`)? Set --url / WFB_URL to the orchestrator's address",
            EXIT_PLATFORM,
        ) from None


def start_run(
    client: httpx.Client,
    target: Target,
    definition: dict[str, Any],
    trigger_data: Any,
    labels: dict[str, str],
) -> dict[str, Any]:
    """Start once: the Idempotency-Key makes a retried request the same run."""
    body = {"definition": definition, "triggerData": trigger_data, "labels": labels}
    headers = {**target.headers(), "Idempotency-Key": f"wfb-cli-{uuid.uuid4()}"}
    url = f"{target.url}{V2}"
    for attempt in range(3):
        try:
            response = client.post(url, json=body, headers=headers, timeout=30)
            break
        except httpx.TransportError as exc:
            if attempt == 2:
                raise CliError(
                    f"cannot reach the platform at {target.url} ({type(exc).__name__}); is it "
                    "running (`make run`)? Set --url / WFB_URL to the orchestrator's address",
                    EXIT_PLATFORM,
                ) from None
            time.sleep(0.5)
    if response.status_code not in (200, 201, 202):
        raise refused(response, "starting the run")
    started = response.json()
    if not isinstance(started, dict) or "instanceId" not in started:
        raise CliError(f"unexpected answer to the start: {response.text[:300]}", EXIT_PLATFORM)
    return started


def answer_approval(
    client: httpx.Client,
    target: Target,
    instance_id: str,
    node_id: str,
    approved: bool,
    reason: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"approved": approved}
    if reason:
        body["reason"] = reason
    url = f"{target.url}{V2}/{instance_id}/approvals/{node_id}"
    response = request(client, "POST", url, json=body, headers=target.headers(), timeout=30)
    if response.status_code == 409:
        raise CliError(
            f"{node_id} of run {instance_id} is not waiting for an answer: "
            f"{problem_text(response)}",
            EXIT_FAILED,
        )
    if response.status_code == 404:
        raise CliError(f"run {instance_id} not found: {problem_text(response)}", EXIT_USAGE)
    if response.status_code >= 300:
        raise refused(response, "answering the approval")
    answer = response.json() if response.content else {}
    return answer if isinstance(answer, dict) else {}


def outcome_code(status: dict[str, Any]) -> int:
    """0 only for a run that completed its work (not one rejected or timed out at a gate)."""
    if status.get("runtimeStatus") != "COMPLETED":
        return EXIT_FAILED
    return EXIT_COMPLETED if status.get("phase") in (None, "completed") else EXIT_FAILED


def _clock(at: Any) -> str:
    text = str(at or "")
    return text[11:23] if len(text) >= 19 and text[10] in "T " else text


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(event: dict[str, Any]) -> str:
    """One readable line per event."""
    kind = str(event.get("type", "?"))
    node = event.get("nodeId")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    label = data.get("label")
    who = f"{node}" + (f" ({label})" if label and label != node else "") if node else ""
    extra = ""
    if kind == "node.completed":
        if data.get("route"):
            extra = f"route={data['route']}"
        elif "output" in data:
            extra = f"output={_short(data['output'])}"
    elif kind in ("node.failed", "run.failed", "node.retrying", "node.compensation_failed"):
        extra = _short(data.get("error") or data.get("message") or "")
    elif kind == "node.skipped":
        extra = str(data.get("reason") or "")
    elif kind == "approval.requested":
        instance = event.get("instanceId", "<run>")
        message = f"{data['message']!r} · " if data.get("message") else ""
        extra = f"{message}answer with: wfb approve {instance} {node} [--reject]"
    elif kind == "approval.answered":
        extra = str(data.get("outcome") or "") + (
            f" ({data['reason']})" if data.get("reason") else ""
        )
    elif kind == "run.completed" and data.get("phase") not in (None, "completed"):
        extra = f"phase={data['phase']}"
    parts = [_clock(event.get("at")), f"{kind:<20}", who, extra]
    return "  ".join(p for p in parts if p).rstrip()


def summary(status: dict[str, Any]) -> str:
    state = f"{status.get('runtimeStatus')}" + (
        f" ({status['phase']})" if status.get("phase") not in (None, "completed") else ""
    )
    line = f"run {status.get('instanceId')}: {state}"
    if status.get("error"):
        line += f": {_short(status['error'], 500)}"
    elif status.get("message") and status.get("phase") not in (None, "completed"):
        line += f": {status['message']}"
    return line
