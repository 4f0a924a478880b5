"""The observability profile: Grafana dashboards (JSON in the repo), their provisioning,
the OpenTelemetry collector pipeline and Prometheus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

# Seed 002 section 3d: the workflow and step metrics the dashboards chart.
WORKFLOW_METRICS = {
    "workflow_pipeline_executions_total",
    "workflow_pipeline_duration_seconds",
    "workflow_pipeline_active_executions",
    "workflow_pipeline_error_rate",
}
STEP_METRICS = {
    "workflow_step_duration_seconds",
    "workflow_step_executions_total",
    "workflow_step_retries_total",
    "workflow_step_error_rate",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


@pytest.fixture(scope="module")
def dashboards(repo: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text())
        for p in sorted((repo / "deploy/grafana/dashboards").glob("*.json"))
    }


def metric_names(expr: str) -> set[str]:
    names = set()
    for token in re.findall(r"\b[a-z_][a-z0-9_]*\b(?=\s*[{\[(,)]|\s*$)", expr):
        if token.startswith("workflow_"):
            for suffix in HISTOGRAM_SUFFIXES:
                token = token.removesuffix(suffix)
            names.add(token)
    return names


def exprs(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    found += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    return found


def test_dashboards_chart_every_workflow_and_step_metric(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    used = set().union(*(metric_names(e) for d in dashboards.values() for e in exprs(d)))
    assert used == WORKFLOW_METRICS | STEP_METRICS
    assert (
        set().union(*(metric_names(e) for e in exprs(dashboards["workflows.json"])))
        <= WORKFLOW_METRICS
    )
    assert set().union(*(metric_names(e) for e in exprs(dashboards["steps.json"]))) >= STEP_METRICS


def test_dashboards_are_well_formed(dashboards: dict[str, dict[str, Any]]) -> None:
    uids = set()
    for name, dashboard in dashboards.items():
        assert dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == "prometheus"
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            for target in panel["targets"]:
                expr = target["expr"]
                assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), (
                    expr
                )
                for variable in re.findall(r"\$(\w+)", expr):
                    assert variable.startswith("__") or variable in variables, (name, variable)
        # histograms are read through their buckets with a rate, never raw
        for expr in exprs(dashboard):
            if "histogram_quantile" in expr:
                assert "_bucket" in expr and "rate(" in expr


def test_grafana_provisioning_points_at_the_dashboards(
    repo: Path, compose: dict[str, Any], yaml_docs: Any
) -> None:
    (datasources,) = yaml_docs(
        repo / "deploy/compose/grafana/provisioning/datasources/prometheus.yaml"
    )
    assert "prometheus" in {d["uid"] for d in datasources["datasources"]}
    (providers,) = yaml_docs(
        repo / "deploy/compose/grafana/provisioning/dashboards/workflow-builder.yaml"
    )
    path = providers["providers"][0]["options"]["path"]
    mounts = dict(
        v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./")
    )
    assert mounts["./deploy/grafana/dashboards"] == path


def test_collector_pipeline_exports_traces_to_jaeger(
    repo: Path, compose: dict[str, Any], yaml_docs: Any
) -> None:
    (config,) = yaml_docs(repo / "deploy/compose/otel-collector.yaml")
    pipeline = config["service"]["pipelines"]["traces"]
    assert set(pipeline["receivers"]) <= config["receivers"].keys()
    assert set(pipeline["processors"]) <= config["processors"].keys()
    assert set(pipeline["exporters"]) <= config["exporters"].keys()
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    exporter = config["exporters"][pipeline["exporters"][0]]
    host = exporter["endpoint"].split(":")[0]
    assert host in compose["services"]
    (dapr_config,) = yaml_docs(repo / "deploy/compose/dapr/config.yaml")
    endpoint = dapr_config["spec"]["tracing"]["otel"]["endpointAddress"]
    assert endpoint.split(":")[0] in compose["services"]
