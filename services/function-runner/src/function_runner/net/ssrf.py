"""The SSRF policy: which URLs and addresses a user-configured request may reach.

A destination is refused unless every address its host resolves to is publicly routable
(``ipaddress``'s ``is_global``) and not multicast, after unwrapping IPv4 addresses embedded
in IPv6 (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``, 6to4, NAT64, Teredo). Hosts
written as non-canonical IPv4 numbers (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
``127.1``) are refused outright: resolvers disagree on them. Schemes are http/https and
ports come from a configurable list. An allow-list of host names (``api.internal``,
``*.svc.cluster.local``) and CIDRs lets trusted internal destinations through.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$",
    re.IGNORECASE,
)


class SsrfRefused(Exception):
    """The destination is not allowed; the message says why (and never holds secrets)."""


@dataclass(frozen=True)
class Destination:
    """A URL split into what the guard checks: scheme, host (lower case, no brackets, no
    trailing dot) and port."""

    scheme: str
    host: str
    port: int
    literal_ip: IPAddress | None


@dataclass(frozen=True)
class SsrfPolicy:
    allowed_schemes: frozenset[str] = frozenset({"http", "https"})
    allowed_ports: frozenset[int] = frozenset({80, 443, 8080, 8443})
    allow_hosts: tuple[str, ...] = ()
    allow_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def build(
        cls,
        *,
        allowed_ports: Iterable[int],
        allow_hosts: Iterable[str],
        allow_cidrs: Iterable[str],
    ) -> SsrfPolicy:
        return cls(
            allowed_ports=frozenset(allowed_ports),
            allow_hosts=tuple(h.lower().rstrip(".") for h in allow_hosts),
            allow_networks=tuple(ipaddress.ip_network(c, strict=False) for c in allow_cidrs),
        )

    # --- static checks (no DNS) ----------------------------------------------------------

    def parse(self, url: str) -> Destination:
        """Split and statically check ``url``; raises :class:`SsrfRefused`."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise SsrfRefused(f"URL is malformed: {exc}") from None
        scheme = parts.scheme.lower()
        if scheme not in self.allowed_schemes:
            allowed = ", ".join(sorted(self.allowed_schemes))
            raise SsrfRefused(f"URL scheme {scheme or '(none)'!r} is not allowed; use {allowed}")
        if "\\" in parts.netloc:
            raise SsrfRefused("URL host contains a backslash")
        host = (parts.hostname or "").strip()
        if not host:
            raise SsrfRefused("URL has no host")
        host = host.lower().rstrip(".")
        literal = _literal_ip(host)
        if literal is None:
            if _NUMERIC_HOST.match(host):
                raise SsrfRefused(
                    f"host {host!r} is an IPv4 address in a non-canonical form "
                    "(decimal, octal, hex or shortened); write it as a.b.c.d"
                )
            if not _HOSTNAME.match(host):
                raise SsrfRefused(f"host {host!r} is not a valid host name")
        effective_port = port if port is not None else (443 if scheme == "https" else 80)
        destination = Destination(scheme, host, effective_port, literal)
        exempt = self.host_allow_listed(host) or (
            literal is not None and self.address_allow_listed(literal)
        )
        if not exempt and effective_port not in self.allowed_ports:
            ports = ", ".join(str(p) for p in sorted(self.allowed_ports))
            raise SsrfRefused(f"port {effective_port} is not allowed; allowed ports: {ports}")
        if literal is not None:
            self.check_address(host, literal)
        return destination

    def host_allow_listed(self, host: str) -> bool:
        for entry in self.allow_hosts:
            if entry.startswith("*."):
                if host.endswith(entry[1:]) and host != entry[2:]:
                    return True
            elif host == entry:
                return True
        return False

    def address_allow_listed(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allow_networks)

    # --- address checks (after DNS) -------------------------------------------------------

    def check_address(self, host: str, address: IPAddress) -> None:
        """Refuse ``address`` (one resolution of ``host``) unless public or allow-listed."""
        if self.host_allow_listed(host) or self.address_allow_listed(address):
            return
        reason = blocked_reason(address)
        if reason is not None:
            shown = host if str(address) == host else f"{host} ({address})"
            raise SsrfRefused(
                f"destination {shown} is not a public address ({reason}); requests to "
                "internal addresses are refused (an operator can allow-list trusted hosts)"
            )


def _literal_ip(host: str) -> IPAddress | None:
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    candidate = candidate.split("%", 1)[0]  # an IPv6 zone id never makes it routable
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or address in _NAT64_LOCAL or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached, or ``None`` when it is publicly routable."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            inner_reason = blocked_reason(inner)
            if inner_reason is not None:
                return f"{inner_reason} (embedded in IPv6)"
            if address.ipv4_mapped is not None or address in _IPV4_COMPATIBLE:
                return "IPv4-mapped/compatible IPv6"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("carrier-grade NAT", address in ipaddress.ip_network("100.64.0.0/10")),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    )
    for reason, hit in checks:
        if hit:
            return reason
    if not address.is_global:
        return "non-public"
    return None
