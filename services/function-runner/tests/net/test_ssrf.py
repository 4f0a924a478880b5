"""The SSRF suite: every bypass form is refused before any byte reaches a real loopback
server; the allow-list lets trusted destinations through."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from function_runner.builtins.base import FunctionError
from function_runner.net.client import GuardedHttpClient
from function_runner.net.ssrf import SsrfPolicy, SsrfRefused, blocked_reason

BLOCKED_ADDRESSES = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "100.100.100.200",  # metadata behind CGNAT
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # metadata over IPv6
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:db8::1",  # documentation
]


class TestAddressRules:
    @pytest.mark.parametrize("address", BLOCKED_ADDRESSES)
    def test_internal_addresses_are_blocked(self, address: str) -> None:
        assert blocked_reason(ipaddress.ip_address(address)) is not None

    @pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
    def test_public_addresses_pass(self, address: str) -> None:
        assert blocked_reason(ipaddress.ip_address(address)) is None


class TestStaticUrlRules:
    policy = SsrfPolicy()

    @pytest.mark.parametrize(
        ("url", "fragment"),
        [
            ("file:///etc/passwd", "scheme"),
            ("gopher://example.com/", "scheme"),
            ("ftp://example.com/", "scheme"),
            ("//example.com/", "scheme"),
            ("http:///path", "no host"),
            ("http://2130706433/", "non-canonical"),
            ("http://017700000001/", "non-canonical"),
            ("http://0x7f000001/", "non-canonical"),
            ("http://0x7f.0.0.1/", "non-canonical"),
            ("http://0177.0.0.1/", "non-canonical"),
            ("http://127.1/", "non-canonical"),
            ("http://0/", "non-canonical"),
            ("http://127.0.0.1./", "not a public address"),
            ("http://[::]/", "not a public address"),
            ("http://[::ffff:7f00:1]/", "not a public address"),
            ("http://example.com@127.0.0.1/", "not a public address"),
            ("http://127.0.0.1#@example.com/", "not a public address"),
            ("http://example.com:22/", "port 22"),
            ("http://example.com:99999/", "malformed"),
            ("http://exa mple.com/", "not a valid host"),
            ("http://example.com\\@127.0.0.1/", "backslash"),
        ],
    )
    def test_refused(self, url: str, fragment: str) -> None:
        with pytest.raises(SsrfRefused, match=fragment):
            self.policy.parse(url)

    def test_allow_list_by_host_pattern_and_cidr(self) -> None:
        policy = SsrfPolicy.build(
            allowed_ports=[443],
            allow_hosts=["*.svc.cluster.local", "vault.internal"],
            allow_cidrs=["10.1.0.0/16"],
        )
        policy.check_address("api.svc.cluster.local", ipaddress.ip_address("10.9.9.9"))
        policy.check_address("vault.internal", ipaddress.ip_address("192.168.0.1"))
        policy.check_address("x.example.com", ipaddress.ip_address("10.1.2.3"))
        with pytest.raises(SsrfRefused):
            policy.check_address("svc.cluster.local", ipaddress.ip_address("10.9.9.9"))
        with pytest.raises(SsrfRefused):
            policy.check_address("x.example.com", ipaddress.ip_address("10.2.0.1"))
        assert policy.parse("http://10.1.2.3:9000/").port == 9000  # allow-listed: any port


def fixed_resolver(table: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(a) for a in table.get(host, ["93.184.216.34"])]

    return resolve


class TestGuardedClientAgainstLoopback:
    """A real server on 127.0.0.1 that must never be reached unless allow-listed."""

    def client(self, port: int, **policy: Any) -> GuardedHttpClient:
        resolver = policy.pop("resolver", None)
        built = SsrfPolicy.build(
            allowed_ports=[80, 443, port],
            allow_hosts=policy.get("allow_hosts", []),
            allow_cidrs=policy.get("allow_cidrs", []),
        )
        if resolver is None:
            return GuardedHttpClient(built, default_timeout=5)
        return GuardedHttpClient(built, default_timeout=5, resolver=resolver)

    @pytest.mark.parametrize(
        "host",
        [
            "127.0.0.1",
            "localhost",
            "localhost.",
            "[::ffff:127.0.0.1]",
            "2130706433",
            "0x7f.0.0.1",
            "127.1",
            "0",
            "user:pw@127.0.0.1",
            "example.com@127.0.0.1",
        ],
    )
    async def test_bypass_forms_never_reach_the_server(self, loopback: Any, host: str) -> None:
        client = self.client(loopback.port)
        try:
            with pytest.raises(FunctionError) as caught:
                await client.request("GET", f"http://{host}:{loopback.port}/secret")
            assert caught.value.code == "forbidden"
        finally:
            await client.aclose()
        assert loopback.requests == []

    async def test_dns_answer_with_any_internal_address_is_refused(self, loopback: Any) -> None:
        resolver = fixed_resolver({"rebind.example": ["93.184.216.34", "127.0.0.1"]})
        client = self.client(loopback.port, resolver=resolver)
        try:
            with pytest.raises(FunctionError, match="not a public address"):
                await client.request("GET", f"http://rebind.example:{loopback.port}/")
        finally:
            await client.aclose()
        assert loopback.requests == []

    async def test_allow_listed_cidr_reaches_the_server(self, loopback: Any) -> None:
        client = self.client(loopback.port, allow_cidrs=["127.0.0.1/32"])
        try:
            response = await client.request("GET", f"http://127.0.0.1:{loopback.port}/ok")
        finally:
            await client.aclose()
        assert response.status_code == 200
        assert [r.path for r in loopback.requests] == ["/ok"]

    async def test_connects_to_the_checked_address_keeping_the_host_header(
        self, loopback: Any
    ) -> None:
        resolver = fixed_resolver({"svc.internal": ["127.0.0.1"]})
        client = self.client(loopback.port, allow_hosts=["svc.internal"], resolver=resolver)
        try:
            response = await client.request("GET", f"http://svc.internal:{loopback.port}/x")
        finally:
            await client.aclose()
        assert response.status_code == 200
        assert loopback.requests[0].headers["host"] == f"svc.internal:{loopback.port}"

    async def test_every_redirect_hop_is_checked(self, server_cls: Any, reply_cls: Any) -> None:
        def handler(request: Any) -> Any:
            if request.path == "/start":
                return reply_cls(
                    status=302, headers={"location": f"http://127.0.0.1:{port}/internal"}
                )
            return reply_cls(body={"reached": True})

        with server_cls(handler) as server:
            port = server.port
            resolver = fixed_resolver({"trusted.example": ["127.0.0.1"]})
            client = self.client(port, allow_hosts=["trusted.example"], resolver=resolver)
            try:
                with pytest.raises(FunctionError, match="not a public address"):
                    await client.request("GET", f"http://trusted.example:{port}/start")
            finally:
                await client.aclose()
            assert [r.path for r in server.requests] == ["/start"]

    async def test_response_size_cap(self, server_cls: Any, reply_cls: Any) -> None:
        with server_cls(lambda r: reply_cls(raw=b"x" * 5000)) as server:
            client = self.client(server.port, allow_cidrs=["127.0.0.0/8"])
            try:
                with pytest.raises(FunctionError, match="limit") as caught:
                    await client.request("GET", f"{server.url}/big", max_response_bytes=1000)
                assert caught.value.code == "validation"
                ok = await client.request("GET", f"{server.url}/big", max_response_bytes=10_000)
                assert len(ok.content) == 5000
            finally:
                await client.aclose()
