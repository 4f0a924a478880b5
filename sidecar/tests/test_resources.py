"""Reading Dapr resource files."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfb_sidecar.resources import ResourceError, load_configuration, load_resources

pytestmark = pytest.mark.unit

COMPONENTS = """
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.in-memory
  version: v1
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
    - name: actorStateStore
      value: "true"
scopes: [orchestrator]
---
apiVersion: dapr.io/v2alpha1
kind: Subscription
metadata:
  name: sub
spec:
  pubsubname: pubsub
  topic: t
  routes:
    default: /t
---
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata:
  name: res
spec:
  policies:
    timeouts: {general: 5s}
    retries: {r: {policy: exponential, maxInterval: 10s, maxRetries: 3}}
    circuitBreakers: {cb: {maxRequests: 1}}
  targets:
    apps:
      x: {timeout: general, retry: r, circuitBreaker: cb}
---
apiVersion: dapr.io/v1alpha1
kind: HTTPEndpoint
metadata:
  name: ignored
spec: {baseUrl: "http://example"}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


def test_reads_every_kind(tmp_path: Path) -> None:
    write(tmp_path, "all.yaml", COMPONENTS)
    write(tmp_path, "secrets.json", '{"not": "a component"}')
    resources = load_resources([tmp_path])
    assert [c.name for c in resources.components] == ["pubsub", "statestore"]
    state = resources.component("statestore")
    assert state is not None
    assert state.visible_to("orchestrator")
    assert not state.visible_to("other")
    assert resources.subscriptions[0].spec.routes is not None
    assert resources.resiliencies[0].spec.targets.apps["x"].retry == "r"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kind: Component\napiVersion: dapr.io/v1alpha1\nmetadata: {name: r}\nspec: {type: pubsub.redis, version: v1}\n",
            "type 'pubsub.redis', which the local sidecar does not support",
        ),
        (
            "kind: Component\napiVersion: dapr.io/v1alpha1\nmetadata: {name: r}\nspec: {type: pubsub.in-memory, version: v2}\n",
            "only v1 exists",
        ),
        (
            "kind: Component\napiVersion: v1\nmetadata: {name: r}\nspec: {type: pubsub.in-memory}\n",
            "apiVersion 'v1'",
        ),
        (
            "kind: Component\napiVersion: dapr.io/v1alpha1\nmetadata: {name: r}\n",
            "spec: Field required",
        ),
        (
            "kind: Subscription\napiVersion: dapr.io/v2alpha1\nmetadata: {name: s}\nspec: {pubsubname: p, topic: t}\n",
            "neither route nor routes",
        ),
        (
            "kind: Resiliency\napiVersion: dapr.io/v1alpha1\nmetadata: {name: r}\nspec: {policies: {timeouts: {t: 5x}}}\n",
            "invalid duration '5x'",
        ),
        (
            "kind: Resiliency\napiVersion: dapr.io/v1alpha1\nmetadata: {name: r}\nspec: {targets: {apps: {a: {retry: nope}}}}\n",
            "unknown retry 'nope'",
        ),
        ("a: [", "invalid YAML"),
        ("- 1\n", "not a mapping"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "bad.yaml", text)
    with pytest.raises(ResourceError) as caught:
        load_resources([tmp_path])
    assert str(tmp_path / "bad.yaml") in str(caught.value)
    assert message in str(caught.value)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    doc = "kind: Component\napiVersion: dapr.io/v1alpha1\nmetadata: {name: p}\nspec: {type: pubsub.in-memory, version: v1}\n"
    write(tmp_path, "a.yaml", doc)
    write(tmp_path, "b.yaml", doc)
    with pytest.raises(ResourceError, match="also defined in"):
        load_resources([tmp_path])


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ResourceError, match="does not exist"):
        load_resources([tmp_path / "nope"])


def test_configuration_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "kind: Configuration\napiVersion: dapr.io/v1alpha1\nmetadata: {name: c}\n"
        "spec:\n  secrets:\n    scopes:\n      - storeName: s\n        defaultAccess: deny\n"
        "        allowedSecrets: [a]\n  tracing: {samplingRate: '1'}\n"
    )
    config = load_configuration(path)
    assert config.spec.secrets is not None
    scope = config.spec.secrets.scopes[0]
    assert scope.allows("a")
    assert not scope.allows("b")
