"""Security properties of the rendered Kubernetes manifests, for every overlay.

Pod Security `restricted` on both namespaces, and for every pod: non-root, a read-only
root filesystem, no privilege escalation, all capabilities dropped, the RuntimeDefault
seccomp profile, requests and limits on every container, no service-account token where
it is not needed; RBAC exactly as designed; default-deny network policies with explicit
allowances; Dapr sidecar annotations on every Deployment.
"""

from __future__ import annotations

from typing import Any

import pytest

# renders the overlays with kustomize and runs the pinned tools: processes, not in-process
pytestmark = pytest.mark.integration

APP_NS = "workflow-builder"
JOB_NS = "workflow-builder-jobs"
CREDENTIALS_NS = "workflow-builder-credentials"
TOKEN_NEEDED = {"function-runner"}  # talks to the Kubernetes API
PRIVATE_RANGES = {
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
}


def pods(rendering: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{w['kind']}/{w['metadata']['name']}", w["spec"]["template"]["spec"])
        for w in rendering.workloads()
    ]


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod.get("initContainers", [])) + list(pod["containers"])


def test_both_namespaces_enforce_restricted_pod_security(renderings: dict[str, Any]) -> None:
    for rendering in renderings.values():
        assert len(rendering.of_kind("Namespace")) == 3
        for ns in rendering.of_kind("Namespace"):
            labels = ns["metadata"]["labels"]
            for mode in ("enforce", "audit", "warn"):
                assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_pods_run_as_non_root_with_runtime_default_seccomp(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        for ref, pod in pods(rendering):
            context = pod["securityContext"]
            assert context["runAsNonRoot"] is True, (name, ref)
            assert context.get("runAsUser", 1) != 0, (name, ref)
            assert context["seccompProfile"]["type"] == "RuntimeDefault", (name, ref)
            for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
                assert not pod.get(forbidden), (name, ref, forbidden)
            for volume in pod.get("volumes", []):
                assert "hostPath" not in volume, (name, ref)


def test_containers_are_locked_down(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        for ref, pod in pods(rendering):
            for container in containers(pod):
                where = (name, ref, container["name"])
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False, where
                assert context["readOnlyRootFilesystem"] is True, where
                assert context.get("privileged", False) is False, where
                assert context["capabilities"]["drop"] == ["ALL"], where
                assert not context["capabilities"].get("add"), where
                assert context.get("runAsUser", 1) != 0, where


def test_every_container_has_requests_and_limits(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        for ref, pod in pods(rendering):
            for container in containers(pod):
                resources = container["resources"]
                for key in ("requests", "limits"):
                    assert {"cpu", "memory"} <= resources[key].keys(), (name, ref, key)


def test_writable_paths_are_volumes(renderings: dict[str, Any]) -> None:
    """Read-only root filesystem: the services write only under /tmp, an emptyDir."""
    for name, rendering in renderings.items():
        (config,) = [
            d
            for d in rendering.of_kind("ConfigMap")
            if d["metadata"]["name"].startswith("workflow-builder-config")
        ]
        assert config["data"]["WFB_DATA_DIR"].startswith("/tmp/"), name
        for deployment in rendering.of_kind("Deployment"):
            pod = deployment["spec"]["template"]["spec"]
            mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            env_from = [s["configMapRef"]["name"] for s in pod["containers"][0]["envFrom"]]
            assert env_from == [config["metadata"]["name"]], name


def test_service_account_tokens_only_where_needed(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        for workload in rendering.workloads():
            pod = workload["spec"]["template"]["spec"]
            wanted = workload["metadata"]["name"] in TOKEN_NEEDED
            assert pod["automountServiceAccountToken"] is wanted, (name, workload["metadata"])
            account = rendering.get("ServiceAccount", pod["serviceAccountName"])
            assert account["automountServiceAccountToken"] is wanted, name
            assert pod["serviceAccountName"] != "default", name


def _rules(role: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    found = set()
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found.add(
                    (
                        group,
                        resource,
                        tuple(sorted(rule["verbs"])),
                        tuple(sorted(rule.get("resourceNames", []))),
                    )
                )
    return found


def test_rbac_is_exactly_what_function_runner_needs(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        assert not rendering.of_kind("ClusterRole"), name
        assert not rendering.of_kind("ClusterRoleBinding"), name
        roles = {
            (r["metadata"]["namespace"], r["metadata"]["name"]): r
            for r in rendering.of_kind("Role")
        }
        assert set(roles) == {
            (JOB_NS, "function-runner"),
            (CREDENTIALS_NS, "function-runner-credentials"),
        }
        assert _rules(roles[(JOB_NS, "function-runner")]) == {
            ("batch", "jobs", ("create", "delete", "get", "list", "watch"), ()),
            # write-only: it can replace and own its per-run Secrets, never read one
            ("", "secrets", ("create", "delete", "patch", "update"), ()),
            ("", "pods", ("list", "watch"), ()),
            ("", "pods/log", ("get",), ()),
        }
        assert _rules(roles[(CREDENTIALS_NS, "function-runner-credentials")]) == {
            ("", "secrets", ("get",), ()),
        }
        # nothing in the application namespace, where the services' database URLs live
        assert not [r for r in rendering.of_kind("Role") if r["metadata"]["namespace"] == APP_NS]
        bindings = rendering.of_kind("RoleBinding")
        assert len(bindings) == 2, name
        for binding in bindings:
            ns = binding["metadata"]["namespace"]
            assert (ns, binding["roleRef"]["name"]) in roles
            assert binding["roleRef"]["kind"] == "Role"
            assert binding["subjects"] == [
                {"kind": "ServiceAccount", "name": "function-runner", "namespace": APP_NS}
            ]


def _policies(rendering: Any, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        p["metadata"]["name"]: p["spec"]
        for p in rendering.of_kind("NetworkPolicy")
        if p["metadata"]["namespace"] == namespace
    }


def test_network_policies_deny_by_default(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        assert _policies(rendering, CREDENTIALS_NS)["default-deny-all"]["policyTypes"] == [
            "Ingress",
            "Egress",
        ]
        for namespace in (APP_NS, JOB_NS):
            policies = _policies(rendering, namespace)
            assert policies["default-deny-all"] == {
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
            }, (name, namespace)
            dns = policies["allow-dns-egress"]["egress"]
            assert {p["port"] for p in dns[0]["ports"]} == {53}
            assert {p["protocol"] for p in dns[0]["ports"]} == {"UDP", "TCP"}
            for policy_name, spec in policies.items():
                for rule in spec.get("ingress", []) + spec.get("egress", []):
                    assert rule.get("ports"), f"{name}: {policy_name} allows every port"


def test_job_namespace_egress_is_an_explicit_allow_list(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        policies = _policies(rendering, JOB_NS)
        assert set(policies) == {
            "default-deny-all",
            "allow-dns-egress",
            "allow-public-https-egress",
        }
        for spec in policies.values():
            assert not spec.get("ingress"), f"{name}: nothing may connect to function jobs"
        public = policies["allow-public-https-egress"]["egress"]
        assert len(public) == 1
        block = public[0]["to"][0]["ipBlock"]
        assert block["cidr"] == "0.0.0.0/0"
        assert set(block["except"]) == PRIVATE_RANGES
        assert {p["port"] for p in public[0]["ports"]} == {80, 443}


def test_job_namespace_limits(renderings: dict[str, Any]) -> None:
    for rendering in renderings.values():
        limit_range = rendering.get("LimitRange", "function-jobs", JOB_NS)
        container = next(lim for lim in limit_range["spec"]["limits"] if lim["type"] == "Container")
        for key in ("default", "defaultRequest", "max"):
            assert {"cpu", "memory"} <= container[key].keys()
        quota = rendering.get("ResourceQuota", "function-jobs", JOB_NS)["spec"]["hard"]
        for key in ("pods", "limits.cpu", "limits.memory", "count/jobs.batch", "secrets"):
            assert key in quota
        assert quota["services"] == "0" and quota["persistentvolumeclaims"] == "0"


def test_app_namespace_paths(renderings: dict[str, Any]) -> None:
    """The allowed paths: Dapr control plane, sidecar-to-sidecar by caller, the ingress
    controller to the BFF only, datastores, OTLP, Prometheus; function-runner to public HTTP."""
    for rendering in renderings.values():
        policies = _policies(rendering, APP_NS)
        control_plane = policies["allow-dapr-control-plane-egress"]["egress"][0]
        assert control_plane["to"][0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "dapr-system"
        }
        assert {p["port"] for p in control_plane["ports"]} == {50001, 6500, 50005, 50006}
        callers = {}
        for callee in ("workflow-orchestrator", "function-runner", "admin-api"):
            rule = policies[f"allow-dapr-ingress-{callee}"]["ingress"][0]
            assert [p["port"] for p in rule["ports"]] == [50002]
            callers[callee] = set(rule["from"][0]["podSelector"]["matchExpressions"][0]["values"])
        assert callers["function-runner"] == {"workflow-orchestrator", "builder-bff"}
        assert "function-runner" not in set().union(*callers.values()), (
            "nothing calls out of a function"
        )
        ingress = [
            (policy_name, spec)
            for policy_name, spec in policies.items()
            if "Ingress" in spec["policyTypes"] and spec.get("ingress")
        ]
        from_outside = [
            policy_name
            for policy_name, spec in ingress
            if any(
                peer.get("namespaceSelector", {})
                .get("matchLabels", {})
                .get("kubernetes.io/metadata.name")
                == "ingress-nginx"
                for rule in spec["ingress"]
                for peer in rule["from"]
            )
        ]
        assert from_outside == ["allow-ingress-controller-to-builder-bff"]
        assert policies["allow-ingress-controller-to-builder-bff"]["podSelector"] == {
            "matchLabels": {"app.kubernetes.io/name": "builder-bff"}
        }
        webhook = policies["allow-function-runner-egress"]["egress"]
        public = next(rule for rule in webhook if rule.get("to"))
        assert set(public["to"][0]["ipBlock"]["except"]) == PRIVATE_RANGES
        assert {p["port"] for p in public["ports"]} == {80, 443, 8080, 8443}
        api = next(rule for rule in webhook if not rule.get("to"))
        assert [p["port"] for p in api["ports"]] == [6443]


def test_deployments_carry_dapr_annotations_probes_and_spread(renderings: dict[str, Any]) -> None:
    for name, rendering in renderings.items():
        for deployment in rendering.of_kind("Deployment"):
            template = deployment["spec"]["template"]
            annotations = template["metadata"]["annotations"]
            app = deployment["metadata"]["name"]
            assert annotations["dapr.io/enabled"] == "true"
            assert annotations["dapr.io/app-id"] == app
            assert annotations["dapr.io/config"] == app
            assert annotations["dapr.io/log-level"] in {"debug", "info", "warn", "error"}
            for key in ("cpu-request", "memory-request", "cpu-limit", "memory-limit"):
                assert annotations[f"dapr.io/sidecar-{key}"], (name, app, key)
            assert annotations["dapr.io/sidecar-seccomp-profile-type"] == "RuntimeDefault"
            graceful = int(annotations["dapr.io/graceful-shutdown-seconds"])
            assert template["spec"]["terminationGracePeriodSeconds"] > graceful
            container = template["spec"]["containers"][0]
            assert container["name"] == app
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            keys = {c["topologyKey"] for c in template["spec"]["topologySpreadConstraints"]}
            assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
