"""The SSRF-guarded HTTP client (``ctx.safe_http``) for URLs users configure.

:class:`GuardedTransport` checks every request it sends — the first one and each redirect
hop — against the :class:`~function_runner.net.ssrf.SsrfPolicy`: it resolves the host once,
refuses the request when any resolved address is internal, and connects to the checked
address itself (the URL's host is replaced by the IP; ``Host`` stays the original name and
TLS uses it for SNI and certificate checks), so a second, different DNS answer can never
be used (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

import httpx

from function_runner.builtins.base import FunctionError
from function_runner.net.ssrf import IPAddress, SsrfPolicy, SsrfRefused

Resolver = Any
"""``async (host, port) -> list[IPAddress]``; the default uses the system resolver."""


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpx.ConnectError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks and pins the destination of every request, then sends it via ``inner``."""

    def __init__(
        self,
        policy: SsrfPolicy,
        *,
        resolver: Resolver = system_resolve,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.resolve = resolver
        self.inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        destination = self.policy.parse(str(request.url))
        if destination.literal_ip is not None:
            address = destination.literal_ip
        else:
            addresses = await self.resolve(destination.host, destination.port)
            if not addresses:
                raise httpx.ConnectError(f"host {destination.host!r} has no address")
            for candidate in addresses:
                self.policy.check_address(destination.host, candidate)
            address = addresses[0]
        pinned_host = f"[{address}]" if address.version == 6 else str(address)
        extensions = dict(request.extensions)
        if destination.scheme == "https" and destination.literal_ip is None:
            extensions["sni_hostname"] = destination.host
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=pinned_host.strip("[]")),
            headers=request.headers,  # keeps Host: <original name>
            stream=request.stream,
            extensions=extensions,
        )
        return await self.inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardedHttpClient:
    """Implements :class:`function_runner.builtins.base.SafeHttpClient`."""

    def __init__(
        self,
        policy: SsrfPolicy,
        *,
        max_redirects: int = 5,
        default_timeout: float = 30.0,
        max_response_bytes: int = 10 * 1024 * 1024,
        resolver: Resolver = system_resolve,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.default_timeout = default_timeout
        self.max_response_bytes = max_response_bytes
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(policy, resolver=resolver, inner=inner),
            max_redirects=max_redirects,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        json: Any = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per-request HTTP timeout, as httpx
        follow_redirects: bool = True,
        max_response_bytes: int | None = None,
    ) -> httpx.Response:
        limit = max_response_bytes or self.max_response_bytes
        try:
            request = self.client.build_request(
                method.upper(),
                url,
                headers=dict(headers or {}),
                params=dict(params) if params else None,
                content=content,
                json=json,
                timeout=timeout or self.default_timeout,
            )
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise FunctionError(f"invalid request: {exc}", code="validation") from None
        try:
            response = await self.client.send(
                request, stream=True, follow_redirects=follow_redirects
            )
            try:
                body = await read_capped(response, limit)
            finally:
                await response.aclose()
        except SsrfRefused as exc:
            raise FunctionError(str(exc), code="forbidden") from None
        except httpx.TooManyRedirects:
            raise FunctionError(
                f"too many redirects (more than {self.client.max_redirects})", code="upstream"
            ) from None
        except httpx.TimeoutException:
            raise FunctionError(
                f"{method.upper()} {_safe_url(url)} timed out", code="timeout", retryable=True
            ) from None
        except httpx.TransportError as exc:
            raise FunctionError(
                f"{method.upper()} {_safe_url(url)} failed: {type(exc).__name__}: {exc}",
                code="upstream",
                retryable=True,
            ) from None
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=response.request,
            extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
        )


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read the body, refusing more than ``limit`` bytes (``FunctionError`` validation)."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FunctionError(
            f"response is {declared} bytes, larger than the {limit}-byte limit",
            code="validation",
            status=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FunctionError(
                f"response is larger than the {limit}-byte limit",
                code="validation",
                status=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _safe_url(url: str) -> str:
    """The URL without userinfo, query or fragment (they may carry secrets)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(invalid URL)"
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
