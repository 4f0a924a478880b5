"""Static validation: every problem of a definition at once, each with its node id.

Checks structure (ids, node types, edges, triggers), cycles (with their path), each
node's config, routing handles, templates (unknown, ambiguous or non-upstream
references), condition expressions, approval event names, and — given a function
catalog — unknown functions, missing required inputs and type mismatches between a
source's output schema and the target's input schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflow_core.expressions import RESERVED, ExpressionError, compile_expression
from workflow_core.graph import APPROVAL_HANDLES, CONDITION_HANDLES, Graph
from workflow_core.model import NODE_TYPES, SerializedEdge, SerializedNode, WorkflowDefinition
from workflow_core.nodes import (
    ACTION_CONTROL_KEYS,
    ActionNode,
    ApprovalNode,
    LoopNode,
    TriggerNode,
    config_problems,
    parse_node,
)
from workflow_core.schemas import (
    FunctionCatalog,
    action_output_schema,
    incompatibilities,
    schema_at,
)
from workflow_core.templates import (
    TRIGGER,
    NameIndex,
    Reference,
    TemplateError,
    find_references,
    is_whole_template,
    parse_reference,
)

LOOP_LOCALS = ("item", "index")


class Issue(BaseModel):
    """One problem found in a definition."""

    model_config = ConfigDict(populate_by_name=True)

    code: str
    message: str
    node_id: str | None = Field(default=None, alias="nodeId")
    edge_id: str | None = Field(default=None, alias="edgeId")
    field: str | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = (
            f"node {self.node_id}"
            if self.node_id
            else (f"edge {self.edge_id}" if self.edge_id else "workflow")
        )
        field = f" [{self.field}]" if self.field else ""
        return f"{self.severity}: {where}{field}: {self.message} ({self.code})"


class Report(BaseModel):
    issues: list[Issue] = Field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_document(data: Any, catalog: FunctionCatalog | None = None) -> Report:
    """Validate raw JSON/YAML data: shape errors and every semantic problem."""
    try:
        definition = WorkflowDefinition.model_validate(data)
    except ValidationError as exc:
        return Report(issues=_shape_issues(exc, data))
    return validate(definition, catalog)


def _shape_issues(exc: ValidationError, data: Any) -> list[Issue]:
    issues = []
    for err in exc.errors():
        loc = list(err["loc"])
        node_id = None
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            try:
                node_id = str(data["nodes"][loc[1]].get("id")) or None
            except (KeyError, IndexError, TypeError, AttributeError):
                node_id = None
        issues.append(
            Issue(
                code="invalid_shape",
                message=f"{'.'.join(map(str, loc)) or 'document'}: {err['msg']}",
                node_id=node_id,
            )
        )
    return issues


def validate(
    definition: WorkflowDefinition,
    catalog: FunctionCatalog | None = None,
    *,
    require_trigger: bool = True,
) -> Report:
    checker = _Checker(definition.nodes, definition.edges, catalog, outer=None)
    checker.run(require_trigger=require_trigger)
    known = {n.id for n in definition.nodes}
    for node_id in definition.execution_order:
        if node_id not in known:
            checker.add(
                "unknown_execution_order_id",
                f"executionOrder lists {node_id!r}, which is not a node (ignored: edges decide order)",
                severity="warning",
            )
    return Report(issues=checker.issues)


@dataclass(frozen=True)
class _Outer:
    """What a loop body can see of the graph around its loop node."""

    loop_id: str
    names: NameIndex
    visible: set[str]


class _Checker:
    def __init__(
        self,
        nodes: list[SerializedNode],
        edges: list[SerializedEdge],
        catalog: FunctionCatalog | None,
        outer: _Outer | None,
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        self.catalog = catalog
        self.outer = outer
        self.issues: list[Issue] = []
        self.by_id = {n.id: n for n in nodes}
        self.names = NameIndex.from_nodes(nodes)
        self.graph = Graph.from_parts([n.id for n in nodes], self._valid_edges())
        self.upstream_cache: dict[str, set[str]] = {}

    def add(self, code: str, message: str, node_id: str | None = None, **kw: Any) -> None:
        if self.outer is not None:
            message = f"in the body of loop {self.outer.loop_id!r}: {message}"
            inner = f"config.body.{node_id}" if node_id else "config.body"
            kw["field"] = f"{inner}.{kw['field']}" if kw.get("field") else inner
            node_id = self.outer.loop_id
        self.issues.append(Issue(code=code, message=message, node_id=node_id, **kw))

    def _valid_edges(self) -> list[SerializedEdge]:
        return [e for e in self.edges if e.source in self.by_id and e.target in self.by_id]

    def upstream(self, node_id: str) -> set[str]:
        if node_id not in self.upstream_cache:
            self.upstream_cache[node_id] = self.graph.upstream(node_id)
        return self.upstream_cache[node_id]

    # --- the checks ---------------------------------------------------------------------

    def run(self, require_trigger: bool) -> None:
        self.check_ids()
        self.check_edges()
        self.check_cycles()
        if self.outer is None:
            self.check_triggers(require_trigger)
        self.check_labels()
        typed: dict[str, Any] = {}
        for node in self.nodes:
            if node.type not in NODE_TYPES:
                self.add(
                    "unknown_node_type",
                    f"unknown node type {node.type!r}; known types: {', '.join(NODE_TYPES)}",
                    node.id,
                    field="type",
                )
                continue
            problems = config_problems(node)
            for problem in problems:
                self.add("invalid_config", problem.message, node.id, field=problem.field)
            if not problems:
                typed[node.id] = parse_node(node)
        self.check_handles()
        self.check_event_names(typed)
        for node in self.nodes:
            if node.type in NODE_TYPES:
                self.check_references(node)
        for node_id, typed_node in typed.items():
            if isinstance(typed_node, ActionNode):
                self.check_action_schema(self.by_id[node_id], typed_node)
            if isinstance(typed_node, LoopNode) and typed_node.config.body is not None:
                self.check_loop_body(self.by_id[node_id], typed_node)

    def check_ids(self) -> None:
        for node_id, count in Counter(n.id for n in self.nodes).items():
            if count > 1:
                self.add("duplicate_node_id", f"{count} nodes share the id {node_id!r}", node_id)
        edge_ids = Counter(e.id for e in self.edges if e.id)
        for edge_id, count in edge_ids.items():
            if count > 1:
                self.add(
                    "duplicate_edge_id", f"{count} edges share the id {edge_id!r}", edge_id=edge_id
                )

    def check_edges(self) -> None:
        seen: set[tuple[str, str, str | None]] = set()
        for edge in self.edges:
            for end, node_id in (("source", edge.source), ("target", edge.target)):
                if node_id not in self.by_id:
                    other = edge.target if end == "source" else edge.source
                    self.add(
                        "unknown_edge_endpoint",
                        f"edge {edge.id or f'{edge.source}->{edge.target}'} has {end} "
                        f"{node_id!r}, which is not a node",
                        other if other in self.by_id else None,
                        edge_id=edge.id or None,
                    )
            key = (edge.source, edge.target, edge.source_handle)
            if key in seen:
                self.add(
                    "duplicate_edge",
                    f"edge {edge.source} -> {edge.target} is declared twice",
                    edge.source,
                    edge_id=edge.id or None,
                    severity="warning",
                )
            seen.add(key)

    def check_cycles(self) -> None:
        for cycle in self.graph.cycles():
            self.add("cycle", f"cycle: {' -> '.join(cycle)}", cycle[0])

    def check_triggers(self, require_trigger: bool) -> None:
        triggers = [n for n in self.nodes if n.type == "trigger"]
        if require_trigger and not triggers:
            self.add("missing_trigger", "the workflow has no trigger node")
        for extra in triggers[1:]:
            self.add(
                "multiple_triggers",
                f"only one trigger node is allowed; {triggers[0].id!r} is the trigger",
                extra.id,
            )
        for trigger in triggers:
            if self.graph.incoming(trigger.id):
                self.add("trigger_has_inputs", "a trigger cannot have incoming edges", trigger.id)
        if triggers:
            reachable = self.graph.reachable_from(t.id for t in triggers)
            for node in self.nodes:
                if node.id not in reachable:
                    self.add(
                        "not_connected",
                        "not connected to the trigger; it runs as soon as the run starts",
                        node.id,
                        severity="warning",
                    )

    def check_labels(self) -> None:
        seen: dict[str, list[str]] = {}
        for node in self.nodes:
            if node.label:
                seen.setdefault(node.label, []).append(node.id)
        for label, ids in seen.items():
            if len(ids) > 1:
                for node_id in ids:
                    self.add(
                        "duplicate_label",
                        f"label {label!r} is shared by {', '.join(ids)}; templates must use ids",
                        node_id,
                        severity="warning",
                    )

    def check_handles(self) -> None:
        for node in self.nodes:
            out = [e for e in self.edges if e.source == node.id]
            if node.kind == "condition":
                for edge in out:
                    if edge.source_handle not in CONDITION_HANDLES:
                        self.add(
                            "invalid_handle",
                            f"edges leaving a condition must use the 'true' or 'false' handle, "
                            f"got {edge.source_handle!r} (to {edge.target})",
                            node.id,
                            edge_id=edge.id or None,
                        )
                if not out:
                    self.add(
                        "dead_end_condition",
                        "a condition with no outgoing edge",
                        node.id,
                        severity="warning",
                    )
            elif node.kind == "approval-gate":
                for edge in out:
                    if (
                        edge.source_handle is not None
                        and edge.source_handle not in APPROVAL_HANDLES
                    ):
                        self.add(
                            "invalid_handle",
                            f"edges leaving an approval gate use 'approved', 'rejected' or "
                            f"'timeout', got {edge.source_handle!r} (to {edge.target})",
                            node.id,
                            edge_id=edge.id or None,
                        )

    def check_event_names(self, typed: Mapping[str, Any]) -> None:
        owners: dict[str, list[str]] = {}
        for node_id, node in typed.items():
            if isinstance(node, ApprovalNode):
                owners.setdefault(node.event_name, []).append(node_id)
        for event, ids in owners.items():
            if len(ids) > 1:
                for node_id in ids:
                    self.add(
                        "duplicate_event_name",
                        f"approval gates {', '.join(ids)} all wait for event {event!r}; "
                        "one response would answer all of them",
                        node_id,
                        field="config.eventName",
                    )

    # --- references ---------------------------------------------------------------------

    def check_references(self, node: SerializedNode) -> None:
        config = dict(node.config)
        if node.kind == "loop":
            config.pop("body", None)  # checked with the body's own scope
        for field, value in _walk_strings(config, "config"):
            try:
                refs = find_references(value)
            except TemplateError as exc:
                self.add("invalid_template", str(exc), node.id, field=field)
                continue
            for ref in refs:
                self.check_reference(node, ref, field)
        if node.kind == "condition" and isinstance(node.config.get("expression"), str):
            self.check_expression(node, node.config["expression"])

    def _resolve(self, name: str) -> tuple[str, set[str]]:
        """Where a name points: ('local'|'trigger'|'node'|'outer'|'unknown', ids)."""
        if self.outer is not None and name in LOOP_LOCALS:
            return "local", set()
        if name == TRIGGER:
            return "trigger", set()
        ids = self.names.lookup(name)
        if ids:
            return "node", ids
        if self.outer is not None:
            outer_ids = self.outer.names.lookup(name)
            if outer_ids:
                return "outer", outer_ids
        return "unknown", set()

    def available_names(self, node_id: str) -> list[str]:
        names = [TRIGGER]
        if self.outer is not None:
            names = [*LOOP_LOCALS, *names]
            names += [self.outer.names.describe(n) for n in sorted(self.outer.visible)]
        names += [self.names.describe(n) for n in sorted(self.upstream(node_id))]
        return names

    def check_reference(self, node: SerializedNode, ref: Reference, field: str) -> None:
        kind, ids = self._resolve(ref.head)
        if kind in ("local", "trigger"):
            if kind == "trigger":
                self.check_trigger_path(node, ref, field)
            return
        if kind == "unknown":
            self.add(
                "unknown_reference",
                f"{ref} refers to unknown node {ref.head!r}; available here: "
                f"{', '.join(self.available_names(node.id))}",
                node.id,
                field=field,
            )
            return
        if len(ids) > 1:
            self.add(
                "ambiguous_reference",
                f"{ref} is ambiguous: {ref.head!r} names {', '.join(sorted(ids))}; use a node id",
                node.id,
                field=field,
            )
            return
        (target,) = ids
        if kind == "outer":
            assert self.outer is not None
            if target not in self.outer.visible:
                self.add(
                    "not_upstream",
                    f"{ref} refers to {self.outer.names.describe(target)}, which is not "
                    f"upstream of loop {self.outer.loop_id!r}",
                    node.id,
                    field=field,
                )
            return
        if target == node.id:
            self.add("self_reference", f"{ref} refers to the node itself", node.id, field=field)
        elif target not in self.upstream(node.id):
            self.add(
                "not_upstream",
                f"{ref} refers to {self.names.describe(target)}, which is not upstream of "
                f"{node.id!r}; connect it before this node",
                node.id,
                field=field,
            )
        elif not self.by_id[target].enabled:
            self.add(
                "disabled_reference",
                f"{ref} refers to disabled node {target!r}; it will have no output",
                node.id,
                field=field,
                severity="warning",
            )

    def check_trigger_path(self, node: SerializedNode, ref: Reference, field: str) -> None:
        schema = self.trigger_schema()
        if not schema or not ref.path:
            return
        props = schema.get("properties")
        first = ref.path[0]
        if (
            isinstance(props, dict)
            and isinstance(first, str)
            and first not in props
            and schema.get("additionalProperties") is False
        ):
            self.add(
                "unknown_trigger_field",
                f"{ref}: the trigger's input schema has no field {first!r}; "
                f"it has: {', '.join(props) or 'none'}",
                node.id,
                field=field,
            )

    def trigger_schema(self) -> dict[str, Any] | None:
        for node in self.nodes:
            if node.type == "trigger":
                schema = node.config.get("inputSchema")
                return schema if isinstance(schema, dict) else None
        return None

    def check_expression(self, node: SerializedNode, source: str) -> None:
        field = "config.expression"
        try:
            compiled = compile_expression(source)
        except (ExpressionError, TemplateError) as exc:
            self.add("invalid_expression", str(exc), node.id, field=field)
            return
        for ref_text in compiled.template_refs:
            self.check_reference(node, parse_reference(ref_text), field)
        for name in [*compiled.variables(), *compiled.node_keys()]:
            if name == "nodes" or name in RESERVED - {TRIGGER, *LOOP_LOCALS}:
                continue
            ref = Reference(head=name, path=(), text=name)
            self.check_reference(node, ref, field)

    # --- schemas ------------------------------------------------------------------------

    def output_schema(self, node_id: str) -> dict[str, Any] | None:
        node = self.by_id.get(node_id)
        if node is None:
            return None
        if node.kind == "trigger":
            schema = node.config.get("inputSchema")
            return schema if isinstance(schema, dict) else None
        if node.kind == "action" and self.catalog is not None:
            spec = self.catalog.get(str(node.config.get("actionId")))
            if spec is not None:
                return action_output_schema(spec.output_schema)
        return None

    def check_action_schema(self, node: SerializedNode, typed: ActionNode) -> None:
        if self.catalog is None:
            return
        spec = self.catalog.get(typed.config.action_id)
        if spec is None:
            self.add(
                "unknown_function",
                f"function {typed.config.action_id!r} is not in the registry",
                node.id,
                field="config.actionId",
            )
            return
        schema = spec.input_schema or {}
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        given = {k: v for k, v in node.config.items() if k not in ACTION_CONTROL_KEYS}
        for name in schema.get("required", []) or []:
            if name not in given or given[name] in (None, ""):
                self.add(
                    "missing_input",
                    f"{typed.config.action_id} needs input {name!r}",
                    node.id,
                    field=f"config.{name}",
                )
        for name, value in given.items():
            target = props.get(name) if isinstance(props, dict) else None
            if isinstance(target, dict):
                self.check_value_type(node, name, value, target)

    def check_value_type(
        self, node: SerializedNode, name: str, value: Any, target: dict[str, Any]
    ) -> None:
        field = f"config.{name}"
        if isinstance(value, str) and is_whole_template(value):
            ref = parse_reference(value[2:-2])
            source_schema = self._reference_schema(ref)
        elif isinstance(value, str) and "{{" in value:
            source_schema = {"type": "string"}
        else:
            source_schema = _literal_schema(value)
        for reason in incompatibilities(source_schema, target, name):
            self.add("type_mismatch", reason, node.id, field=field)

    def _reference_schema(self, ref: Reference) -> dict[str, Any] | None:
        kind, ids = self._resolve(ref.head)
        if kind == "trigger":
            schema = self.trigger_schema()
        elif kind == "node" and len(ids) == 1:
            schema = self.output_schema(next(iter(ids)))
        else:
            return None
        found = schema_at(schema, ref.path)
        return dict(found) if found else None

    # --- loop bodies --------------------------------------------------------------------

    def check_loop_body(self, node: SerializedNode, typed: LoopNode) -> None:
        body = typed.config.body
        assert body is not None
        edges = []
        for i, raw in enumerate(body.edges):
            try:
                edges.append(SerializedEdge.model_validate(raw))
            except ValidationError as exc:
                self.add(
                    "invalid_config",
                    f"body edge {i}: {exc.errors()[0]['msg']}",
                    node.id,
                    field="config.body.edges",
                )
        clashes = {n.id for n in body.nodes} & set(self.by_id)
        for clash in sorted(clashes):
            self.add(
                "duplicate_node_id",
                f"loop body node id {clash!r} is also a node of the workflow",
                node.id,
                field="config.body",
            )
        outer = _Outer(
            loop_id=node.id,
            names=self.names,
            visible=self.upstream(node.id),
        )
        inner = _Checker(body.nodes, edges, self.catalog, outer)
        inner.run(require_trigger=False)
        self.issues.extend(inner.issues)


def _walk_strings(value: Any, path: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk_strings(item, f"{path}[{i}]")


def _literal_schema(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    return {"type": "object"}


def trigger_node(definition: WorkflowDefinition) -> TriggerNode | None:
    for node in definition.nodes:
        if node.type == "trigger":
            typed = parse_node(node)
            assert isinstance(typed, TriggerNode)
            return typed
    return None
