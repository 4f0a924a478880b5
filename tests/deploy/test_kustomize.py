"""Every overlay renders with the pinned kustomize, and every rendered resource is valid.

Kubernetes kinds are validated by ``kubernetes-validate --strict`` (unknown fields are
errors) against a current Kubernetes release; Dapr and KEDA custom resources have no schema
there and are checked by test_dapr_resources.py / below.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

# renders the overlays with kustomize and runs the pinned tools: processes, not in-process
pytestmark = pytest.mark.integration

KUBERNETES_VERSION = "1.37.0"
CUSTOM_GROUPS = {"dapr.io", "keda.sh"}
APP_NS = "workflow-builder"
JOB_NS = "workflow-builder-jobs"
CREDENTIALS_NS = "workflow-builder-credentials"
# Secrets overlays/prod expects the operator to create (README, "Production notes").
PROD_EXTERNAL_SECRETS = {
    "orchestrator-database",
    "function-runner-database",
    "admin-api-database",
    "dapr-redis",
    "dapr-api-token",
    "dapr-app-token",
    "orchestrator-secrets-key",
    "admin-api-jwt-signing-key",
    "admin-api-trigger-secret-key",
    "redis-url",
}


def test_kustomize_is_the_pinned_version(kustomize: Path) -> None:
    out = subprocess.run(
        [str(kustomize), "version"], capture_output=True, text=True, check=True
    ).stdout
    assert "kustomize/v4.5.4" in out


def test_every_overlay_renders_resources(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        kinds = {d["kind"] for d in rendering.docs}
        assert {"Namespace", "Deployment", "Service", "NetworkPolicy", "Component"} <= kinds, name
        assert len(rendering.docs) > 40, name


@pytest.mark.parametrize("name", ["dev", "prod", "prod-keda", "dev+postgresql-state-store"])
def test_rendered_resources_pass_strict_schema_validation(
    name: str, rendered_files: dict[str, Path], tool_bin: Path
) -> None:
    result = subprocess.run(
        [
            str(tool_bin / "kubernetes-validate"),
            "--strict",
            "--kubernetes-version",
            KUBERNETES_VERSION,
            str(rendered_files[name]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if line]
    problems = [
        line
        for line in lines
        if not line.startswith("INFO")
        and not (
            line.startswith("WARN")
            and "Couldn't find schema for kind" in line
            and any(f"api version {g}/" in line for g in CUSTOM_GROUPS)
        )
    ]
    assert result.returncode == 0 and not problems, "\n".join(problems or lines[-20:])
    passed = [line for line in lines if line.startswith("INFO") and "passed" in line]
    assert len(passed) >= 40, "kubernetes-validate validated suspiciously few resources"


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path, tool_bin: Path) -> None:
    """The validator really is strict (a typo in a manifest would be caught)."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
        "spec:\n  ports: [{port: 80}]\n  selectr: {a: b}\n"
    )
    result = subprocess.run(
        [str(tool_bin / "kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "selectr" in result.stdout + result.stderr


def test_only_known_custom_resources(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        for doc in rendering.docs:
            group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
            if "." in group and not group.endswith("k8s.io"):
                assert group in CUSTOM_GROUPS, f"{name}: unexpected {doc['apiVersion']}"


def test_every_resource_lives_in_one_of_the_three_namespaces(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        namespaces = {d["metadata"]["name"] for d in rendering.of_kind("Namespace")}
        assert namespaces == {APP_NS, JOB_NS, CREDENTIALS_NS}, name
        for doc in rendering.docs:
            if doc["kind"] == "Namespace":
                continue
            assert doc["metadata"].get("namespace") in namespaces, (
                f"{name}: {doc['kind']} {doc['metadata']['name']} has no namespace"
            )
        job_ns_kinds = {
            d["kind"] for d in rendering.docs if d["metadata"].get("namespace") == JOB_NS
        }
        credential_kinds = {
            d["kind"] for d in rendering.docs if d["metadata"].get("namespace") == CREDENTIALS_NS
        }
        assert credential_kinds == {"NetworkPolicy", "Role", "RoleBinding"}, name
        assert job_ns_kinds == {
            "LimitRange",
            "ResourceQuota",
            "NetworkPolicy",
            "Role",
            "RoleBinding",
        }, name


def _pod_references(pod_spec: dict[str, Any]) -> tuple[set[str], set[str]]:
    secrets: set[str] = set()
    config_maps: set[str] = set()
    for container in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                secrets.add(source["secretRef"]["name"])
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"]["name"])
        for env in container.get("env", []):
            ref = env.get("valueFrom", {})
            if "secretKeyRef" in ref:
                secrets.add(ref["secretKeyRef"]["name"])
            if "configMapKeyRef" in ref:
                config_maps.add(ref["configMapKeyRef"]["name"])
    for volume in pod_spec.get("volumes", []):
        if "secret" in volume:
            secrets.add(volume["secret"]["secretName"])
        if "configMap" in volume:
            config_maps.add(volume["configMap"]["name"])
    return secrets, config_maps


def _dapr_secret_references(rendering: Any) -> set[str]:
    refs = set()
    for component in rendering.of_kind("Component", "dapr.io"):
        for item in component["spec"].get("metadata", []):
            if "secretKeyRef" in item:
                refs.add(item["secretKeyRef"]["name"])
    for deployment in rendering.of_kind("Deployment"):
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        for key in ("dapr.io/api-token-secret", "dapr.io/app-token-secret"):
            if key in annotations:
                refs.add(annotations[key])
    for config in rendering.of_kind("Configuration", "dapr.io"):
        for scope in config["spec"].get("secrets", {}).get("scopes", []):
            refs.update(scope.get("allowedSecrets", []))
    for role in rendering.of_kind("Role"):
        for rule in role["rules"]:
            refs.update(rule.get("resourceNames", []))
    return refs


def test_every_referenced_secret_and_config_map_exists(renderings: dict[str, Any]) -> None:
    """dev renders every Secret it uses; prod renders none and uses exactly the documented
    externally created ones (so a renamed Secret cannot silently break production)."""
    for name, rendering in renderings.items():
        secrets = {d["metadata"]["name"] for d in rendering.of_kind("Secret")}
        config_maps = {d["metadata"]["name"] for d in rendering.of_kind("ConfigMap")}
        used_secrets = _dapr_secret_references(rendering)
        for workload in rendering.workloads():
            s, c = _pod_references(workload["spec"]["template"]["spec"])
            used_secrets |= s
            assert c <= config_maps, f"{name}: missing ConfigMaps {c - config_maps}"
        if name.startswith("prod"):
            assert not secrets, f"{name} must not ship Secrets (example values): {secrets}"
            assert used_secrets == PROD_EXTERNAL_SECRETS, name
        else:
            assert used_secrets <= secrets, f"{name}: missing Secrets {used_secrets - secrets}"


def test_selectors_and_references_match(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        deployments = {d["metadata"]["name"]: d for d in rendering.of_kind("Deployment")}
        accounts = {d["metadata"]["name"] for d in rendering.of_kind("ServiceAccount")}
        pods = {
            w["metadata"]["name"]: w["spec"]["template"]["metadata"]["labels"]
            for w in rendering.workloads()
        }
        for workload in rendering.workloads():
            spec = workload["spec"]
            assert (
                spec["selector"]["matchLabels"].items()
                <= spec["template"]["metadata"]["labels"].items()
            )
            assert spec["template"]["spec"]["serviceAccountName"] in accounts, name
        for service in rendering.of_kind("Service"):
            selector = service["spec"]["selector"].items()
            assert any(selector <= labels.items() for labels in pods.values()), (
                f"{name}: Service {service['metadata']['name']} selects no pods"
            )
        for kind in ("PodDisruptionBudget",):
            for pdb in rendering.of_kind(kind):
                selector = pdb["spec"]["selector"]["matchLabels"].items()
                assert any(selector <= labels.items() for labels in pods.values()), name
        for hpa in rendering.of_kind("HorizontalPodAutoscaler") + rendering.of_kind("ScaledObject"):
            assert hpa["spec"]["scaleTargetRef"]["name"] in deployments, name
        for ingress in rendering.of_kind("Ingress"):
            for rule in ingress["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    backend = path["backend"]["service"]
                    service = rendering.get("Service", backend["name"])
                    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_every_deployment_is_covered_by_pdb_and_autoscaler(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        deployments = {d["metadata"]["name"] for d in rendering.of_kind("Deployment")}
        pdbs = {d["metadata"]["name"] for d in rendering.of_kind("PodDisruptionBudget")}
        scaled = {
            d["spec"]["scaleTargetRef"]["name"]
            for d in rendering.of_kind("HorizontalPodAutoscaler")
            + rendering.of_kind("ScaledObject")
        }
        assert deployments == pdbs == scaled, name
        # never both an HPA and a KEDA ScaledObject for one Deployment
        hpas = [
            d["spec"]["scaleTargetRef"]["name"]
            for d in rendering.of_kind("HorizontalPodAutoscaler")
        ]
        keda = [d["spec"]["scaleTargetRef"]["name"] for d in rendering.of_kind("ScaledObject")]
        assert not set(hpas) & set(keda), name


def test_replicas_and_autoscaling_limits_per_environment(renderings: dict[str, Any]) -> None:
    dev = renderings["dev"]
    for deployment in dev.of_kind("Deployment"):
        assert deployment["spec"]["replicas"] == 1
    for statefulset in dev.of_kind("StatefulSet"):
        assert statefulset["spec"]["replicas"] == 1
        assert statefulset["spec"]["volumeClaimTemplates"], "dev datastores keep data on a PVC"
    assert {s["metadata"]["name"] for s in dev.of_kind("StatefulSet")} == {"postgresql", "redis"}
    for name in ("prod", "prod-keda"):
        prod = renderings[name]
        assert not prod.of_kind("StatefulSet"), "prod uses external PostgreSQL/Redis"
        for deployment in prod.of_kind("Deployment"):
            assert deployment["spec"]["replicas"] >= 2
        for hpa in prod.of_kind("HorizontalPodAutoscaler"):
            assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"] <= 50
            assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
        for pdb in prod.of_kind("PodDisruptionBudget"):
            assert pdb["spec"]["minAvailable"] >= 2
    keda = renderings["prod-keda"].of_kind("ScaledObject")
    assert [k["metadata"]["name"] for k in keda] == ["function-runner"]
    assert keda[0]["spec"]["minReplicaCount"] >= 2
    assert not renderings["prod"].of_kind("ScaledObject")


def test_prod_talks_tls_to_redis(renderings: dict[str, Any]) -> None:
    for component in renderings["prod"].of_kind("Component", "dapr.io"):
        if component["spec"]["type"].endswith(".redis"):
            meta = {m["name"]: m.get("value") for m in component["spec"]["metadata"]}
            assert meta["enableTLS"] == "true", component["metadata"]["name"]
