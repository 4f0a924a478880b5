"""Condition expressions in CEL (the Common Expression Language), never Python ``eval``.

CEL is a small, non-Turing-complete language designed for exactly this (policy and
routing conditions in Kubernetes, Envoy, Firebase): comparisons, ``&&``/``||``/``!``,
``in``, arithmetic, ``?:``, ``has()``, string and list macros. It runs on the Rust
implementation (PyPI ``common-expression-language``), so evaluation is side-effect
free, bounded and fast. Names available, over the same context as templates:

- ``trigger``: the trigger data;
- each node by its id or its label without spaces (``Fetch.data.status == 200``) when
  that is a valid identifier, and every node under ``nodes["any id or label"]``;
- ``item`` / ``index`` inside a loop body;
- templates: ``{{Fetch.data.items[0].id}} == "a"`` binds the resolved value (never
  pastes text into the expression).

Added string helpers (from CEL's strings extension): ``lowerAscii``, ``upperAscii``,
``trim``, ``split``, ``join``, ``replace``, ``indexOf``, ``substring``; and ``min``,
``max``, ``abs``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import cel

from workflow_core.templates import (
    TRIGGER,
    Scope,
    TemplateError,
    normalize_label,
    parse_reference,
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NODES_KEY = re.compile(r"""nodes\s*\[\s*(["'])(.*?)\1\s*\]""")
RESERVED = frozenset(
    {
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
        "void", "while", "nodes", TRIGGER, "item", "index", "has", "size", "int", "uint",
        "double", "string", "bytes", "bool", "list", "map", "type", "dyn", "duration",
        "timestamp", "matches",
    }
)  # fmt: skip


class ExpressionError(ValueError):
    pass


def _substring(s: str, start: int, end: int | None = None) -> str:
    return s[start:end] if end is not None else s[start:]


def _split(s: str, sep: str, limit: int = -1) -> list[str]:
    return s.split(sep, limit - 1 if limit > 0 else -1)


def _join(items: list[Any], sep: str = "") -> str:
    return sep.join(str(i) for i in items)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: s.lower(),
    "upperAscii": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "split": _split,
    "join": _join,
    "replace": lambda s, old, new: s.replace(old, new),
    "indexOf": lambda s, sub: s.find(sub),
    "substring": _substring,
    "min": lambda items: min(items),
    "max": lambda items: max(items),
    "abs": lambda n: abs(n),
}


def _bind_templates(expression: str) -> tuple[str, list[str]]:
    """Replace each ``{{ref}}`` with a generated variable ``__tN``; return their texts."""
    refs: list[str] = []

    def bind(match: re.Match[str]) -> str:
        refs.append(match.group(1))
        return f"__t{len(refs) - 1}"

    rewritten = re.sub(r"(?<!\\)\{\{((?:(?!\{\{|\}\}).)*)\}\}", bind, expression)
    return rewritten, refs


@functools.lru_cache(maxsize=2048)
def _compile(expression: str) -> Any:
    try:
        return cel.compile(expression)
    except ValueError as exc:
        message = str(exc).split("ERROR: ", 1)[-1]
        raise ExpressionError(f"expression does not parse: {message}") from None


class CompiledExpression:
    """A parsed condition: its CEL program and the names it refers to."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.cel_source, self.template_refs = _bind_templates(source)
        for ref in self.template_refs:
            parse_reference(ref)  # raises TemplateError for a malformed template
        self.program = _compile(self.cel_source)

    def variables(self) -> list[str]:
        """Top-level names used, other than template bindings."""
        return [v for v in self.program.variables() if not v.startswith("__t")]

    def node_keys(self) -> list[str]:
        """Keys used as ``nodes["..."]``."""
        return [m.group(2) for m in _NODES_KEY.finditer(self.cel_source)]

    def evaluate(self, scope: Scope) -> Any:
        variables = build_variables(scope)
        for i, ref in enumerate(self.template_refs):
            variables[f"__t{i}"] = scope.lookup(parse_reference(ref))
        return self.evaluate_with(variables)

    def evaluate_with(self, variables: Mapping[str, Any]) -> Any:
        """Evaluate over plain variables (e.g. ``{"event": cloud_event}`` for trigger
        filters); templates are not resolved here."""
        variables = dict(variables)
        context = cel.Context(variables)
        for name, fn in _FUNCTIONS.items():
            context.add_function(name, fn)
        try:
            return self.program.execute(context)
        except TemplateError:
            raise
        except KeyError as exc:
            raise ExpressionError(
                f"expression {self.source!r} reads missing field {exc.args[0]!r}; "
                "guard it with has(x.field)"
            ) from None
        except Exception as exc:  # the CEL runtime raises plain RuntimeError/TypeError
            message = str(exc)
            if "Undefined variable" in message:
                name = message.split("'")[1] if "'" in message else "?"
                raise ExpressionError(
                    f"expression {self.source!r} uses unknown name {name!r}; available: "
                    f"{', '.join(sorted(variables)) or 'nothing'}"
                ) from None
            raise ExpressionError(f"expression {self.source!r} failed: {message}") from None


def compile_expression(source: str) -> CompiledExpression:
    return CompiledExpression(source)


def build_variables(scope: Scope) -> dict[str, Any]:
    """The CEL variables of a scope: trigger, nodes map, node names, loop locals."""
    by_key: dict[str, Any] = {}
    for node_id, output in scope.outputs.items():
        by_key[node_id] = output
        label = scope.names.labels.get(node_id, "")
        for name in {label, normalize_label(label)} - {""}:
            if len(scope.names.lookup(name)) == 1:
                by_key.setdefault(name, output)
    variables: dict[str, Any] = {
        name: value for name, value in by_key.items() if _IDENT.match(name) and name not in RESERVED
    }
    variables["nodes"] = by_key
    variables[TRIGGER] = scope.trigger
    variables.update(scope.locals)
    return variables


def evaluate_condition(source: str, scope: Scope) -> bool:
    """Evaluate a condition; it must produce a boolean."""
    result = compile_expression(source).evaluate(scope)
    if not isinstance(result, bool):
        raise ExpressionError(
            f"condition {source!r} must evaluate to true or false, got {result!r}"
        )
    return result


def usable_names(names: Mapping[str, str]) -> set[str]:
    """Which of a node's names (id, label) can be used as bare CEL identifiers."""
    return {n for n in names.values() if _IDENT.match(n) and n not in RESERVED}
