"""Retry policies and timeouts: Dapr ``Resiliency`` resources and pub/sub back-off metadata.

Applied: ``targets.apps.<id>`` timeout and retry on service invocation (the calling
app's Resiliency, per its ``scopes``), and ``targets.components.<pubsub>.inbound``
timeout and retry on pub/sub deliveries. Accepted but not enforced: circuit breakers,
actor targets, outbound component targets (publishing is a local SQLite write here).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass

from wfb_sidecar.durations import parse_go_duration
from wfb_sidecar.resources import Resiliency, ResourceError, RetrySpec, TargetPolicy

log = logging.getLogger(__name__)


def _code_set(text: str, low: int, high: int, where: str) -> frozenset[int]:
    codes: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            if "-" in part:
                start, end = (int(x) for x in part.split("-", 1))
            else:
                start = end = int(part)
        except ValueError:
            raise ResourceError(f"{where}: invalid status code list {text!r}") from None
        if not (low <= start <= end <= high):
            raise ResourceError(f"{where}: status codes {part!r} outside {low}-{high}")
        codes.update(range(start, end + 1))
    return frozenset(codes)


@dataclass(frozen=True)
class RetryPolicy:
    """Dapr's retry semantics: ``max_retries`` -1 is unlimited, 0 is no retry."""

    exponential: bool
    interval_s: float
    max_interval_s: float
    max_retries: int
    multiplier: float = 1.5
    jitter: float = 0.0
    http_status_codes: frozenset[int] | None = None

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        if not self.exponential:
            return self.interval_s
        base = min(self.max_interval_s, self.interval_s * self.multiplier ** (retry - 1))
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)  # noqa: S311 - back-off jitter
        return max(0.0, min(self.max_interval_s, base))

    def may_retry(self, retries_done: int) -> bool:
        return self.max_retries < 0 or retries_done < self.max_retries

    def retries_status(self, status: int) -> bool:
        if self.http_status_codes is not None:
            return status in self.http_status_codes
        return status >= 500

    @classmethod
    def from_spec(cls, spec: RetrySpec, where: str) -> RetryPolicy:
        codes = spec.matching.get("httpStatusCodes")
        return cls(
            exponential=spec.policy == "exponential",
            interval_s=parse_go_duration(spec.duration) if spec.policy == "constant" else 0.5,
            max_interval_s=parse_go_duration(spec.max_interval),
            max_retries=spec.max_retries,
            jitter=0.5 if spec.policy == "exponential" else 0.0,
            http_status_codes=_code_set(codes, 100, 599, where) if codes else None,
        )

    @classmethod
    def from_component_metadata(cls, metadata: Mapping[str, str], where: str) -> RetryPolicy:
        """Dapr's common pub/sub back-off metadata (``backOff*``), with our defaults."""
        try:
            policy = metadata.get("backOffPolicy", "exponential").lower()
            if policy not in ("constant", "exponential"):
                raise ResourceError(f"{where}: backOffPolicy must be constant or exponential")
            exponential = policy == "exponential"
            interval = parse_go_duration(
                metadata.get("backOffInitialInterval" if exponential else "backOffDuration")
                or ("500ms" if exponential else "5s")
            )
            return cls(
                exponential=exponential,
                interval_s=interval,
                max_interval_s=parse_go_duration(metadata.get("backOffMaxInterval", "60s")),
                max_retries=int(metadata.get("backOffMaxRetries", "10")),
                multiplier=float(metadata.get("backOffMultiplier", "2")),
            )
        except ValueError as exc:
            raise ResourceError(f"{where}: invalid back-off metadata: {exc}") from None


@dataclass(frozen=True)
class Policy:
    timeout_s: float | None = None
    retry: RetryPolicy | None = None


class ResiliencyRegistry:
    """Policies of every Resiliency resource, computed (and checked) at startup."""

    def __init__(self, resiliencies: list[Resiliency]) -> None:
        self._entries: list[tuple[Resiliency, dict[str, Policy], dict[str, Policy]]] = []
        for res in resiliencies:
            if res.spec.policies.circuit_breakers:
                log.warning(
                    "%s: circuit breakers are accepted but not enforced by the local sidecar",
                    res.source,
                )
            if res.spec.targets.actors:
                log.warning("%s: actor targets are accepted but not enforced", res.source)
            apps = {
                name: self._policy(res, target, f"{res.source}: target app {name!r}")
                for name, target in res.spec.targets.apps.items()
            }
            inbound = {
                name: self._policy(res, target.inbound, f"{res.source}: target component {name!r}")
                for name, target in res.spec.targets.components.items()
                if target.inbound is not None
            }
            self._entries.append((res, apps, inbound))

    @staticmethod
    def _policy(res: Resiliency, target: TargetPolicy, where: str) -> Policy:
        policies = res.spec.policies
        timeout: float | None = None
        if target.timeout:
            timeout = parse_go_duration(policies.timeouts.get(target.timeout, target.timeout))
        retry = None
        if target.retry:
            retry = RetryPolicy.from_spec(policies.retries[target.retry], where)
        return Policy(timeout, retry)

    def for_app(self, caller: str, target_app: str) -> Policy:
        for res, apps, _ in self._entries:
            if res.applies_to(caller) and target_app in apps:
                return apps[target_app]
        return Policy()

    def for_inbound(self, subscriber: str, component: str) -> Policy:
        for res, _, inbound in self._entries:
            if res.applies_to(subscriber) and component in inbound:
                return inbound[component]
        return Policy()
