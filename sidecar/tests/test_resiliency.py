"""Retry policies and resiliency targets (unit)."""

from __future__ import annotations

import pytest

from wfb_sidecar.resiliency import ResiliencyRegistry, RetryPolicy
from wfb_sidecar.resources import Resiliency, ResourceError, RetrySpec

pytestmark = pytest.mark.unit


def test_exponential_backoff_grows_to_the_cap() -> None:
    policy = RetryPolicy.from_component_metadata(
        {"backOffInitialInterval": "100ms", "backOffMaxInterval": "1s"}, "x"
    )
    assert [policy.delay(n) for n in range(1, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert policy.max_retries == 10
    assert policy.may_retry(9)
    assert not policy.may_retry(10)


def test_constant_and_unlimited() -> None:
    policy = RetryPolicy.from_component_metadata(
        {"backOffPolicy": "constant", "backOffDuration": "2s", "backOffMaxRetries": "-1"}, "x"
    )
    assert policy.delay(7) == 2.0
    assert policy.may_retry(10_000)


@pytest.mark.parametrize(
    "metadata",
    [{"backOffPolicy": "linear"}, {"backOffMaxRetries": "many"}, {"backOffInitialInterval": "5"}],
)
def test_bad_metadata(metadata: dict[str, str]) -> None:
    with pytest.raises(ResourceError):
        RetryPolicy.from_component_metadata(metadata, "comp.yaml")


def test_status_matching() -> None:
    spec = RetrySpec(
        policy="constant", duration="1s", maxRetries=2, matching={"httpStatusCodes": "429,500-502"}
    )
    policy = RetryPolicy.from_spec(spec, "x")
    assert [policy.retries_status(s) for s in (429, 500, 502, 503, 404)] == [
        True,
        True,
        True,
        False,
        False,
    ]
    assert RetryPolicy.from_spec(RetrySpec(), "x").retries_status(503)
    with pytest.raises(ResourceError):
        RetryPolicy.from_spec(RetrySpec(matching={"httpStatusCodes": "700"}), "x")


def resiliency(scopes: list[str]) -> Resiliency:
    return Resiliency.model_validate(
        {
            "apiVersion": "dapr.io/v1alpha1",
            "kind": "Resiliency",
            "metadata": {"name": "r"},
            "scopes": scopes,
            "spec": {
                "policies": {"timeouts": {"t": "2s"}, "retries": {"r": {"maxRetries": 1}}},
                "targets": {
                    "apps": {"target": {"timeout": "t", "retry": "r"}},
                    "components": {"pubsub": {"inbound": {"timeout": "500ms"}}},
                },
            },
        }
    )


def test_targets_apply_to_scoped_callers_only() -> None:
    registry = ResiliencyRegistry([resiliency(["caller"])])
    policy = registry.for_app("caller", "target")
    assert policy.timeout_s == 2.0
    assert policy.retry is not None and policy.retry.max_retries == 1
    assert registry.for_app("someone-else", "target").timeout_s is None
    assert registry.for_inbound("caller", "pubsub").timeout_s == 0.5
    assert registry.for_inbound("caller", "other").timeout_s is None
