"""Service invocation: forward a request to the target app and its answer back.

Method, path, query, headers (minus hop-by-hop ones and the Dapr API token), body and
status pass through unchanged; ``traceparent``/``tracestate`` pass through;
``dapr-caller-app-id`` and ``dapr-callee-app-id`` are set. Bodies are streamed both ways
unless a retry policy needs the request body again, in which case it is read once.
The target's Configuration ``accessControl`` and the caller's Resiliency
(``targets.apps``) are applied.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
import grpc
from yarl import URL

from wfb_sidecar import errors
from wfb_sidecar.appchannel import AppChannel
from wfb_sidecar.metrics import SidecarMetrics
from wfb_sidecar.resiliency import ResiliencyRegistry
from wfb_sidecar.resources import AccessControl

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length",
        "dapr-api-token", "dapr-app-id", "dapr-caller-app-id", "dapr-callee-app-id",
    }
)  # fmt: skip
RESPONSE_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "trailer", "trailers"}
)
CONNECT_TIMEOUT_S = 5.0
Body = bytes | AsyncIterator[bytes]


def _operation_pattern(name: str) -> re.Pattern[str]:
    """ACL operation names: ``*`` matches within one path segment, ``**`` any depth."""
    pattern = ""
    for segment in name.strip("/").split("/"):
        if segment == "**":
            pattern += "(?:/.*)?"
        elif segment:
            pattern += "/" + re.escape(segment).replace(r"\*", "[^/]*")
    return re.compile("^" + (pattern or "/") + "/?$")


def access_allowed(acl: AccessControl | None, caller: str, method: str, path: str) -> bool:
    """Dapr's ``accessControl``: the caller's policy (operations, then its default), else
    the global default."""
    if acl is None:
        return True
    policy = next((p for p in acl.policies if p.app_id == caller), None)
    if policy is None:
        return acl.default_action == "allow"
    normalized = "/" + path.lstrip("/")
    for operation in policy.operations:
        verbs = {v.upper() for v in operation.http_verb}
        if ("*" in verbs or method.upper() in verbs) and _operation_pattern(operation.name).match(
            normalized
        ):
            return operation.action == "allow"
    return (policy.default_action or acl.default_action) == "allow"


@dataclass
class AppTarget:
    app_id: str
    channel: AppChannel
    access_control: AccessControl | None = None


def forwarded_headers(
    headers: Iterable[tuple[str, str]], caller: str, target: str
) -> list[tuple[str, str]]:
    result = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
    result += [("dapr-caller-app-id", caller), ("dapr-callee-app-id", target)]
    return result


class Upstream:
    """The target app's answer, its body still to be read (``read`` or ``chunks``);
    ``close`` must follow."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in response.raw_headers
            if k.decode("latin-1").lower() not in RESPONSE_HOP_BY_HOP
        ]

    def header(self, name: str) -> str | None:
        return self._response.headers.get(name)

    @property
    def content_length(self) -> int | None:
        return self._response.content_length

    async def read(self) -> bytes:
        return await self._response.read()

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.content.iter_any():
            yield chunk

    async def close(self) -> None:
        """Release the connection for reuse, or drop it when the body was not read to
        its end (the caller went away mid-stream)."""
        if self._response.content.is_eof():
            self._response.release()
        else:
            self._response.close()


class Invoker:
    def __init__(
        self,
        targets: dict[str, AppTarget],
        resiliency: ResiliencyRegistry,
        metrics: SidecarMetrics,
    ) -> None:
        self.targets = targets
        self.resiliency = resiliency
        self.metrics = metrics
        self._client: aiohttp.ClientSession | None = None
        self._closed = False

    def _session(self, app_id: str) -> aiohttp.ClientSession:
        """The client, made on first use (it belongs to the running loop). aiohttp, as it
        costs a third of httpx's CPU per request on this hot path."""
        if self._closed:
            raise errors.direct_invoke(app_id, "the sidecar is shutting down")
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=500, limit_per_host=0),
                # bodies and their encodings pass through as they are
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            )
        return self._client

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        self._closed = True
        if self._client is not None:
            await self._client.close()

    def resolve(self, caller: str, app_id: str, method: str, path: str) -> AppTarget:
        target_id = app_id.split(".", 1)[0]  # "<app-id>.<namespace>" addresses the same app
        target = self.targets.get(target_id)
        if target is None:
            raise errors.unknown_app(app_id, list(self.targets))
        if target.channel.base_url is None:
            raise errors.direct_invoke(
                app_id, "app channel is not initialized (the app has no appPort in the run file)"
            )
        if not access_allowed(target.access_control, caller, method, path):
            raise errors.DaprError(
                "ERR_DIRECT_INVOKE",
                f"access control policy has denied access to id: {caller} operation: {path} "
                f"verb: {method}",
                http_status=403,
                grpc_code=grpc.StatusCode.PERMISSION_DENIED,
            )
        return target

    async def send(
        self,
        caller: str,
        app_id: str,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: Body,
    ) -> Upstream:
        """Send the request; the answer's body is still to be read (the caller closes it)."""
        target = self.resolve(caller, app_id, method, path)
        policy = self.resiliency.for_app(caller, target.app_id)
        url = f"{target.channel.base_url}/{path.lstrip('/')}"
        if query:
            url = f"{url}?{query}"
        out_headers = forwarded_headers(headers, caller, target.app_id)
        out_headers += list(target.channel.headers().items())
        retry = policy.retry
        if retry is not None and not isinstance(body, bytes):
            body = b"".join([chunk async for chunk in body])
        retries = 0
        started = time.perf_counter()
        target_url = URL(url, encoded=True)  # the path and query pass through as they are
        client = self._session(app_id)
        while True:
            failure: str
            try:
                async with asyncio.timeout(policy.timeout_s):  # wait_for may lose a cancel
                    response = await client.request(
                        method,
                        target_url,
                        headers=out_headers,
                        data=body if body != b"" else None,
                        allow_redirects=False,
                    )
            except TimeoutError:
                failure = f"timeout after {policy.timeout_s}s"
            except aiohttp.ClientConnectorError as exc:
                failure = f"the app is not reachable at {target.channel.base_url} ({exc.os_error or 'connection refused'})"
            except aiohttp.ClientError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if (
                    retry is None
                    or not retry.retries_status(response.status)
                    or not retry.may_retry(retries)
                ):
                    self._observe(caller, target.app_id, str(response.status), started)
                    return Upstream(response)
                response.close()
                failure = f"the app answered {response.status}"
            if retry is None or not retry.may_retry(retries):
                self._observe(caller, target.app_id, "error", started)
                raise errors.direct_invoke(app_id, failure)
            retries += 1
            log.info("invoking %s %s failed (%s); retry %d", app_id, path, failure, retries)
            await asyncio.sleep(retry.delay(retries))

    def _observe(self, caller: str, target: str, status: str, started: float) -> None:
        self.metrics.invocations.labels(caller, target, status).inc()
        self.metrics.invocation_seconds.labels(target).observe(time.perf_counter() - started)
