"""Service invocation through the sidecar, driven by the Dapr SDK's DaprClient."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprHttpError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from wfb_sidecar.testing import (
    AppPorts,
    Recorded,
    SidecarProcess,
    TinyApp,
    dapr_settings,
    free_port,
    plain_request,
)

pytestmark = pytest.mark.integration

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

RESILIENCY = {
    "apiVersion": "dapr.io/v1alpha1",
    "kind": "Resiliency",
    "metadata": {"name": "invocation"},
    "scopes": ["caller"],
    "spec": {
        "policies": {
            "timeouts": {"short": "300ms"},
            "retries": {
                "three": {
                    "policy": "constant",
                    "duration": "50ms",
                    "maxRetries": 3,
                    "matching": {"httpStatusCodes": "503"},
                }
            },
        },
        "targets": {"apps": {"flaky": {"retry": "three"}, "slow": {"timeout": "short"}}},
    },
}
ACL = """
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: guarded
spec:
  accessControl:
    defaultAction: deny
    policies:
      - appId: caller
        defaultAction: deny
        operations:
          - name: /public/**
            httpVerb: ["GET"]
            action: allow
"""


class Platform:
    def __init__(self, sidecar: SidecarProcess, apps: dict[str, TinyApp]) -> None:
        self.sidecar = sidecar
        self.apps = apps

    @contextlib.contextmanager
    def client(self, app_id: str = "caller", **settings: object) -> Iterator[DaprClient]:
        with (
            dapr_settings(self.sidecar, app_id, **settings) as address,
            DaprClient(address=address) as client,
        ):
            yield client


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    directory: Path = tmp_path_factory.mktemp("invocation")
    apps = {name: TinyApp().start() for name in ("target", "flaky", "slow", "guarded")}
    (directory / "acl.yaml").write_text(ACL)
    ports = [
        AppPorts("caller", None),
        AppPorts("down", free_port()),
        *(AppPorts(name, app.port) for name, app in apps.items() if name != "guarded"),
        AppPorts("guarded", apps["guarded"].port, extra={"configFilePath": "acl.yaml"}),
    ]
    sidecar = SidecarProcess(directory, ports, {"resiliency.yaml": [RESILIENCY]})
    sidecar.start()
    yield Platform(sidecar, apps)
    sidecar.stop()
    for app in apps.values():
        app.stop()


@pytest.fixture(autouse=True)
def _clear(platform: Platform) -> None:
    for app in platform.apps.values():
        app.requests.clear()
        app.handlers.clear()
        app.raw_handlers.clear()


class TestPassThrough:
    @pytest.mark.parametrize("verb", ["GET", "POST", "PUT", "DELETE", "PATCH"])
    def test_method_path_query_headers_and_body_reach_the_app(
        self, platform: Platform, verb: str
    ) -> None:
        with platform.client() as client:
            response = client.invoke_method(
                "target",
                "orders/42/items",
                data=b'{"n": 1}',
                content_type="application/json",
                http_verb=verb,
                http_querystring=(("a", "1"), ("a", "2"), ("q", "x y")),
                metadata=(("x-request-id", "abc"), ("traceparent", TRACEPARENT)),
            )
        assert response.status_code == 200
        (seen,) = platform.apps["target"].received("/orders/42/items")
        assert seen.method == verb
        assert seen.query == "a=1&a=2&q=x+y"
        assert seen.headers["x-request-id"] == "abc"
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["traceparent"] == TRACEPARENT
        assert seen.headers["dapr-caller-app-id"] == "caller"
        assert seen.headers["dapr-callee-app-id"] == "target"
        assert seen.body == b'{"n": 1}'
        assert response.json()["method"] == verb

    def test_status_headers_and_body_of_the_answer_come_back(self, platform: Platform) -> None:
        platform.apps["target"].handlers["/teapot"] = lambda r: Response(
            b"short and stout",
            status_code=418,
            headers={"x-kettle": "on", "set-cookie": "a=1"},
            media_type="text/plain",
        )
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/teapot"
        trace = {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
        status, headers, body = plain_request("POST", url, b"x", trace)
        assert status == 418
        assert body == b"short and stout"
        assert headers["x-kettle"] == "on"
        assert headers["set-cookie"] == "a=1"
        seen = platform.apps["target"].received("/teapot")[0]
        assert (seen.headers["traceparent"], seen.headers["tracestate"]) == (
            TRACEPARENT,
            "vendor=1",
        )

    def test_raw_paths_compressed_answers_and_absent_headers_pass_unchanged(
        self, platform: Platform
    ) -> None:
        zipped = gzip.compress(b"hello " * 200)
        seen: list[tuple[bytes, str | None]] = []

        async def answer(request: Request) -> Response:
            seen.append((request.scope["raw_path"], request.headers.get("content-type")))
            return Response(zipped, headers={"content-encoding": "gzip"}, media_type="text/plain")

        platform.apps["target"].raw_handlers["/files/a/b c"] = answer
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/files/a%2Fb%20c"
        status, headers, body = plain_request("POST", url, b"raw bytes")
        assert (status, headers["content-encoding"], body) == (200, "gzip", zipped)
        assert headers["content-length"] == str(len(zipped))
        assert seen == [(b"/files/a%2Fb%20c", None)]

    def test_the_sdk_sees_an_app_error_status(self, platform: Platform) -> None:
        platform.apps["target"].handlers["/missing"] = lambda r: JSONResponse(
            {"detail": "no such order"}, status_code=404
        )
        with platform.client() as client, pytest.raises(DaprHttpError) as caught:
            client.invoke_method("target", "missing", http_verb="GET")
        assert caught.value.status_code == 404

    def test_head_and_options(self, platform: Platform) -> None:
        base = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/thing"
        assert httpx.head(base).status_code == 200
        assert httpx.options(base).status_code == 200
        assert [r.method for r in platform.apps["target"].requests] == ["HEAD", "OPTIONS"]

    def test_dapr_app_id_header_proxies_to_the_app(self, platform: Platform) -> None:
        response = httpx.get(
            f"{platform.sidecar.url('caller')}/orders/7?x=1", headers={"dapr-app-id": "target"}
        )
        assert response.status_code == 200
        seen = platform.apps["target"].received("/orders/7")[0]
        assert seen.query == "x=1"
        assert seen.headers["dapr-caller-app-id"] == "caller"
        assert "dapr-app-id" not in seen.headers

    def test_the_api_token_is_not_forwarded(self, platform: Platform) -> None:
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/x"
        httpx.get(url, headers={"dapr-api-token": "secret"})
        assert "dapr-api-token" not in platform.apps["target"].received("/x")[0].headers


class TestErrors:
    def test_unknown_app_id_is_a_404_dapr_error(self, platform: Platform) -> None:
        with platform.client() as client, pytest.raises(DaprHttpError) as caught:
            client.invoke_method("nobody", "x", http_verb="GET")
        assert caught.value.status_code == 404
        assert caught.value.error_code == "ERR_DIRECT_INVOKE"
        assert "nobody" in (caught.value.message or "")

    def test_an_app_that_is_down_is_a_500_dapr_error(self, platform: Platform) -> None:
        response = httpx.get(f"{platform.sidecar.url('caller')}/v1.0/invoke/down/method/x")
        assert response.status_code == 500
        body = response.json()
        assert body["errorCode"] == "ERR_DIRECT_INVOKE"
        assert "not reachable" in body["message"]

    def test_an_app_without_app_port_cannot_be_invoked(self, platform: Platform) -> None:
        response = httpx.get(f"{platform.sidecar.url('target')}/v1.0/invoke/caller/method/x")
        assert response.status_code == 500
        assert "app channel is not initialized" in response.json()["message"]


class TestResiliency:
    def test_retry_policy_retries_matching_statuses(self, platform: Platform) -> None:
        calls: list[int] = []

        def flaky(r: Recorded) -> Response:
            calls.append(1)
            return Response(status_code=503 if len(calls) < 3 else 200, content=b"ok")

        platform.apps["flaky"].handlers["/op"] = flaky
        response = httpx.post(
            f"{platform.sidecar.url('caller')}/v1.0/invoke/flaky/method/op", content=b"payload"
        )
        assert response.status_code == 200
        assert len(calls) == 3
        assert {r.body for r in platform.apps["flaky"].requests} == {b"payload"}

    def test_retries_end_with_the_last_answer(self, platform: Platform) -> None:
        platform.apps["flaky"].handlers["/down"] = lambda r: Response(status_code=503)
        response = httpx.get(f"{platform.sidecar.url('caller')}/v1.0/invoke/flaky/method/down")
        assert response.status_code == 503
        assert len(platform.apps["flaky"].received("/down")) == 4  # one call + 3 retries

    def test_retry_policy_only_applies_to_its_scoped_caller(self, platform: Platform) -> None:
        platform.apps["flaky"].handlers["/down"] = lambda r: Response(status_code=503)
        response = httpx.get(f"{platform.sidecar.url('target')}/v1.0/invoke/flaky/method/down")
        assert response.status_code == 503
        assert len(platform.apps["flaky"].received("/down")) == 1

    def test_timeout_policy_cuts_a_slow_app(self, platform: Platform) -> None:
        async def slow(request: Request) -> Response:
            await asyncio.sleep(2)
            return Response(b"late")

        platform.apps["slow"].raw_handlers["/wait"] = slow
        started = time.monotonic()
        response = httpx.get(f"{platform.sidecar.url('caller')}/v1.0/invoke/slow/method/wait")
        assert response.status_code == 500
        assert "timeout" in response.json()["message"]
        assert time.monotonic() - started < 1.5


class TestAccessControl:
    def test_allowed_operation(self, platform: Platform) -> None:
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/guarded/method/public/a/b"
        assert httpx.get(url).status_code == 200

    def test_denied_verb_operation_and_caller(self, platform: Platform) -> None:
        base = platform.sidecar.url("caller")
        denied = [
            httpx.post(f"{base}/v1.0/invoke/guarded/method/public/a"),
            httpx.get(f"{base}/v1.0/invoke/guarded/method/admin"),
            httpx.get(f"{platform.sidecar.url('target')}/v1.0/invoke/guarded/method/public/a"),
        ]
        assert [r.status_code for r in denied] == [403, 403, 403]
        assert denied[0].json()["errorCode"] == "ERR_DIRECT_INVOKE"
        assert platform.apps["guarded"].requests == []


class TestStreaming:
    def test_request_body_is_streamed_not_buffered(self, platform: Platform) -> None:
        first_chunk_seen = threading.Event()
        received: list[bytes] = []

        async def upload(request: Request) -> Response:
            async for chunk in request.stream():
                if chunk:
                    received.append(chunk)
                    first_chunk_seen.set()
            return Response(str(sum(len(c) for c in received)).encode())

        platform.apps["target"].raw_handlers["/upload"] = upload

        def body() -> Iterator[bytes]:
            yield b"a" * 1000
            # The second chunk is only produced once the app has the first: a sidecar that
            # buffered the whole request would wait forever here.
            assert first_chunk_seen.wait(10), "the app never got the first chunk"
            yield b"b" * 1000

        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/upload"
        response = httpx.post(url, content=body(), timeout=20)
        assert response.status_code == 200
        assert response.text == "2000"

    def test_large_bodies_round_trip(self, platform: Platform) -> None:
        payload = bytes(range(256)) * 40_000  # ~10 MB, above the buffering limit

        async def echo(request: Request) -> Response:
            return Response(await request.body(), media_type="application/octet-stream")

        platform.apps["target"].raw_handlers["/echo"] = echo
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/echo"
        response = httpx.post(url, content=payload, timeout=30)
        assert response.status_code == 200
        assert response.content == payload

    def test_response_body_is_streamed(self, platform: Platform) -> None:
        release = threading.Event()

        async def chunks() -> AsyncIterator[bytes]:
            yield b"first;"
            await asyncio.to_thread(release.wait, 10)
            yield b"second"

        async def stream(request: Request) -> Response:
            return StreamingResponse(chunks(), media_type="text/plain")

        platform.apps["target"].raw_handlers["/stream"] = stream
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/stream"
        with httpx.stream("GET", url, timeout=20) as response:
            parts = response.iter_raw()
            assert next(parts) == b"first;"  # arrives while the app still holds the rest
            release.set()
            assert b"".join(parts) == b"second"

    def test_a_caller_leaving_mid_stream_drops_the_apps_connection(
        self, platform: Platform
    ) -> None:
        ended = threading.Event()

        async def chunks() -> AsyncIterator[bytes]:
            try:
                yield b"first;"
                for _ in range(200):  # 10 s unless the sidecar hangs up
                    await asyncio.sleep(0.05)
                    yield b"."
            finally:
                ended.set()

        async def stream(request: Request) -> Response:
            return StreamingResponse(chunks(), media_type="text/plain")

        platform.apps["target"].raw_handlers["/endless"] = stream
        url = f"{platform.sidecar.url('caller')}/v1.0/invoke/target/method/endless"
        with httpx.stream("GET", url, timeout=20) as response:
            assert next(response.iter_raw()) == b"first;"
        assert ended.wait(5), "the app kept streaming to nobody"


class TestGrpcInvocation:
    def test_invoke_service_over_grpc(self, platform: Platform) -> None:
        with platform.client(DAPR_API_METHOD_INVOCATION_PROTOCOL="grpc") as client:
            response = client.invoke_method(
                "target",
                "grpc-path",
                data=b"hello",
                content_type="text/plain",
                http_verb="PUT",
                http_querystring=(("k", "v"),),
            )
        seen = platform.apps["target"].received("/grpc-path")[0]
        assert (seen.method, seen.query, seen.body) == ("PUT", "k=v", b"hello")
        assert seen.headers["dapr-caller-app-id"] == "caller"
        assert response.json()["method"] == "PUT"
        assert response.content_type.startswith("application/json")

    def test_grpc_errors_carry_the_status(self, platform: Platform) -> None:
        with (
            platform.client(DAPR_API_METHOD_INVOCATION_PROTOCOL="grpc") as client,
            pytest.raises(grpc.RpcError) as caught,
        ):
            client.invoke_method("nobody", "x", data=b"", http_verb="GET")
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
