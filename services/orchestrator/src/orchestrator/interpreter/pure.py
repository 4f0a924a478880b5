"""Functions the interpreter evaluates inside the workflow: pure, deterministic, no I/O.

Their output has the same envelope as a function-runner call, so templates read
``{{Set.data.x}}`` whether a node ran inline or remotely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _set(node_input: dict[str, Any]) -> Any:
    """``system/set``: the data is ``values`` (or, without it, the whole input)."""
    return node_input.get("values", node_input)


PURE_FUNCTIONS: dict[str, Callable[[dict[str, Any]], Any]] = {"system/set": _set}


def run_pure_function(slug: str, node_input: dict[str, Any]) -> Any:
    return PURE_FUNCTIONS[slug](node_input)


def envelope(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "error": None, "duration_ms": 0}
