"""The workflow definition format of seed 003, kept exactly (camelCase JSON).

``WorkflowDefinition`` / ``SerializedNode`` / ``SerializedEdge`` accept the seed's JSON
unchanged and keep unknown fields, so JSON -> model -> JSON (or YAML) is lossless. Node
``config`` stays a plain mapping here; :mod:`workflow_core.nodes` parses it into the typed
config model of the node's type.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NodeType = Literal[
    "trigger",
    "action",
    "activity",
    "condition",
    "approval-gate",
    "timer",
    "publish-event",
    "loop",
    "for-each",
    "sub-workflow",
]
NODE_TYPES: tuple[str, ...] = NodeType.__args__  # type: ignore[attr-defined]

CANONICAL_TYPE: dict[str, str] = {"activity": "action", "for-each": "loop"}
"""Aliases and the type whose semantics they share."""


def canonical_type(node_type: str) -> str:
    return CANONICAL_TYPE.get(node_type, node_type)


class _Lossless(BaseModel):
    """Keeps unknown fields and accepts both camelCase aliases and field names."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON form, with only the fields that were given (lossless round trip)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Position(_Lossless):
    x: float = 0
    y: float = 0


class SerializedNode(_Lossless):
    id: str = Field(min_length=1, max_length=200)
    # Kept as a string so an unknown type is a validation *problem* with the node's id,
    # not a parse failure that hides every other problem.
    type: str
    label: str = ""
    description: str | None = None
    enabled: bool = True
    position: Position = Field(default_factory=Position)
    config: dict[str, Any] = Field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The canonical type (``activity`` -> ``action``, ``for-each`` -> ``loop``)."""
        return canonical_type(self.type)

    @property
    def display_name(self) -> str:
        return self.label or self.id


class SerializedEdge(_Lossless):
    id: str = ""
    source: str
    target: str
    source_handle: str | None = Field(default=None, alias="sourceHandle")
    target_handle: str | None = Field(default=None, alias="targetHandle")


class DefinitionMetadata(_Lossless):
    description: str | None = None
    author: str | None = None
    tags: list[str] = Field(default_factory=list)


class WorkflowDefinition(_Lossless):
    id: str = Field(min_length=1, max_length=200)
    name: str = ""
    version: str = "1.0.0"
    nodes: list[SerializedNode] = Field(default_factory=list)
    edges: list[SerializedEdge] = Field(default_factory=list)
    execution_order: list[str] = Field(default_factory=list, alias="executionOrder")
    metadata: DefinitionMetadata | None = None

    def node(self, node_id: str) -> SerializedNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def node_map(self) -> dict[str, SerializedNode]:
        return {node.id: node for node in self.nodes}
