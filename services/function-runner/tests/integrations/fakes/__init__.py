"""Loopback fakes of the integrations' vendor APIs.

Each module is one vendor: a Starlette app that checks a request the way the real API
does (method, path, auth header scheme, content type, required fields) and answers with
the real response shapes, errors included. The credential decides the outcome:
:data:`GOOD` is accepted, :data:`LIMITED` gets the vendor's rate-limit answer (status and
headers), anything else its authentication error. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount

GOOD = "good-key-1234"
LIMITED = "rate-limited-key"


@dataclass
class Call:
    vendor: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)

    def of(self, vendor: str) -> list[Call]:
        return [c for c in self.calls if c.vendor == vendor]

    def last(self, vendor: str) -> Call:
        return self.of(vendor)[-1]


async def read(request: Request, recorder: Recorder, vendor: str) -> Call:
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    body: Any = None
    if raw and "json" in content_type:
        body = json.loads(raw)
    elif raw and "x-www-form-urlencoded" in content_type:
        body = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    call = Call(
        vendor=vendor,
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        raw=raw,
    )
    recorder.calls.append(call)
    return call


def key_of(call: Call, scheme: str | None = "Bearer", header: str = "authorization") -> str | None:
    value = call.headers.get(header)
    if value is None:
        return None
    if scheme is None:
        return value
    prefix = f"{scheme} "
    return value[len(prefix) :] if value.startswith(prefix) else None


def gate(
    call: Call,
    *,
    unauthorized: Callable[[], Response],
    limited: Callable[[], Response],
    scheme: str | None = "Bearer",
    header: str = "authorization",
) -> Response | None:
    """The vendor's answer to a bad or rate-limited key, or None to go on."""
    key = key_of(call, scheme, header)
    if key == LIMITED:
        return limited()
    if key != GOOD:
        return unauthorized()
    return None


def error(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def build_app(recorder: Recorder) -> Starlette:
    from . import (  # the vendor modules import this package: import them late
        blob,
        clerk,
        fal,
        firecrawl,
        github,
        linear,
        openai,
        perplexity,
        resend,
        slack,
        stripe,
        superagent,
        v0,
        webflow,
    )

    vendors = {
        "openai": openai,
        "slack": slack,
        "github": github,
        "linear": linear,
        "stripe": stripe,
        "resend": resend,
        "blob": blob,
        "clerk": clerk,
        "fal": fal,
        "firecrawl": firecrawl,
        "perplexity": perplexity,
        "superagent": superagent,
        "v0": v0,
        "webflow": webflow,
    }
    return Starlette(
        routes=[Mount(f"/{name}", module.app(recorder)) for name, module in vendors.items()]
    )


BASE_PATHS = {
    "openai": "/openai/v1",
    "slack": "/slack/api",
    "github": "/github",
    "linear": "/linear",
    "stripe": "/stripe/v1",
    "resend": "/resend",
    "blob": "/blob",
    "clerk": "/clerk/v1",
    "fal": "/fal",
    "firecrawl": "/firecrawl/v1",
    "perplexity": "/perplexity",
    "superagent": "/superagent/api",
    "v0": "/v0/v1",
    "webflow": "/webflow/v2",
}


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a background thread; yield its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake vendor server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()
