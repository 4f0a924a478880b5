"""Canonical form, hashing, and differences between two definitions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

NODE_FIELDS = ("type", "label", "description", "enabled", "position")
TOP_FIELDS = ("name", "version", "metadata", "executionOrder")


def canonical_json(definition: dict[str, Any]) -> str:
    """Sorted keys, no whitespace: the same definition always gives the same text."""
    return json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_sha256(definition: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(definition).encode()).hexdigest()


def _by_id(items: list[dict[str, Any]], key: Any) -> dict[str, dict[str, Any]]:
    return {key(item): item for item in items}


def _edge_key(edge: dict[str, Any]) -> str:
    if edge.get("id"):
        return str(edge["id"])
    return f"{edge.get('source')}->{edge.get('target')}:{edge.get('sourceHandle') or ''}"


def _changes(old: dict[str, Any], new: dict[str, Any], keys: Any = None) -> list[dict[str, Any]]:
    names = keys if keys is not None else sorted(set(old) | set(new))
    out = []
    for name in names:
        if old.get(name) != new.get(name):
            kind = "added" if name not in old else "removed" if name not in new else "changed"
            out.append({"field": name, "change": kind, "from": old.get(name), "to": new.get(name)})
    return out


def diff_definitions(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Node-, edge- and config-level differences from ``old`` to ``new``."""
    old_nodes = _by_id(old.get("nodes", []), lambda n: str(n.get("id")))
    new_nodes = _by_id(new.get("nodes", []), lambda n: str(n.get("id")))
    changed_nodes = []
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        a, b = old_nodes[node_id], new_nodes[node_id]
        fields = _changes(a, b, NODE_FIELDS)
        config = _changes(a.get("config") or {}, b.get("config") or {})
        if fields or config:
            changed_nodes.append({"id": node_id, "fields": fields, "config": config})
    old_edges = _by_id(old.get("edges", []), _edge_key)
    new_edges = _by_id(new.get("edges", []), _edge_key)
    changed_edges = [
        {"id": key, "fields": _changes(old_edges[key], new_edges[key])}
        for key in sorted(old_edges.keys() & new_edges.keys())
        if old_edges[key] != new_edges[key]
    ]
    return {
        "nodes": {
            "added": [new_nodes[i] for i in sorted(new_nodes.keys() - old_nodes.keys())],
            "removed": [old_nodes[i] for i in sorted(old_nodes.keys() - new_nodes.keys())],
            "changed": changed_nodes,
        },
        "edges": {
            "added": [new_edges[k] for k in sorted(new_edges.keys() - old_edges.keys())],
            "removed": [old_edges[k] for k in sorted(old_edges.keys() - new_edges.keys())],
            "changed": changed_edges,
        },
        "workflow": _changes(old, new, TOP_FIELDS),
    }
