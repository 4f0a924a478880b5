"""Functions the interpreter evaluates inside the workflow: pure, deterministic, no I/O.

Their output has the same envelope as a function-runner call, so templates read
``{{Set.data.x}}`` whether a node ran inline or remotely, and each gives exactly what
function-runner's builtin of the same slug gives for the same input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from workflow_core.transform import TransformError, apply_pipeline, result_count


def _set(node_input: dict[str, Any], _execution_id: str, _node_id: str) -> Any:
    """``system/set``: the data is ``values`` (or, without it, the whole input)."""
    return node_input.get("values", node_input)


def _transform(node_input: dict[str, Any], execution_id: str, node_id: str) -> Any:
    """``system/transform`` (seed 004's DSL); random steps are seeded like function-runner's
    builtin: by ``seed``, else by the execution and node ids (stable across replays)."""
    if "source" not in node_input or not isinstance(node_input.get("pipeline"), list):
        raise ValueError("system/transform needs 'source' and a 'pipeline' list")
    seed = node_input.get("seed")
    if seed is None:
        seed = hashlib.sha256(f"{execution_id}:{node_id}".encode()).hexdigest()[:16]
    try:
        result = apply_pipeline(node_input["source"], node_input["pipeline"], seed=seed)
    except TransformError as exc:
        raise ValueError(str(exc)) from None
    return {"result": result, "count": result_count(result)}


PURE_FUNCTIONS: dict[str, Callable[[dict[str, Any], str, str], Any]] = {
    "system/set": _set,
    "system/transform": _transform,
}


def run_pure_function(
    slug: str, node_input: dict[str, Any], execution_id: str, node_id: str
) -> Any:
    return PURE_FUNCTIONS[slug](node_input, execution_id, node_id)


def envelope(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "error": None, "duration_ms": 0}
