"""The template engine: ``{{Label.field}}``, ``{{nodeId.field}}``, ``{{trigger.x}}``.

Paths go through nested fields (``.name``), array indexes (``[0]``, ``[-1]``) and quoted
keys (``["a key"]``). A string that is exactly one template keeps the referenced value's
JSON type; templates embedded in text become strings (objects and arrays as compact
JSON). An unknown reference is an error listing what is available, never a literal left
in place. ``\\{{`` writes a literal ``{{``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflow_core.model import SerializedNode, WorkflowDefinition

TRIGGER = "trigger"
_TEMPLATE = re.compile(r"(?<!\\)\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.DOTALL)
_SEGMENT = re.compile(
    r"""\.(?P<name>[^.\[\]]+)|\[\s*(?P<index>-?\d+)\s*\]|\[\s*(?P<q>["'])(?P<key>.*?)(?P=q)\s*\]"""
)
_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


class TemplateError(ValueError):
    """A template that cannot be resolved; the message says what is available instead."""

    def __init__(self, message: str, template: str = "", available: list[str] | None = None):
        self.template = template
        self.available = available or []
        super().__init__(message)


@dataclass(frozen=True)
class Reference:
    """A parsed ``{{head.path...}}``."""

    head: str
    path: tuple[str | int, ...]
    text: str

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


def parse_reference(text: str) -> Reference:
    inner = text.strip()
    if not inner:
        raise TemplateError("empty template '{{}}'", "{{}}")
    cut = len(inner)
    for i, ch in enumerate(inner):
        if ch in ".[":
            cut = i
            break
    head = inner[:cut].strip()
    if not head:
        raise TemplateError(f"template '{{{{{inner}}}}}' has no node name before the path", inner)
    rest = inner[cut:]
    path: list[str | int] = []
    pos = 0
    while pos < len(rest):
        match = _SEGMENT.match(rest, pos)
        if match is None:
            raise TemplateError(
                f"cannot parse '{rest[pos:]}' in template '{{{{{inner}}}}}'; "
                'use .field, [0] or ["key"]',
                inner,
            )
        if match.group("name") is not None:
            path.append(match.group("name").strip())
        elif match.group("index") is not None:
            path.append(int(match.group("index")))
        else:
            path.append(match.group("key"))
        pos = match.end()
    return Reference(head=head, path=tuple(path), text=inner)


def iter_templates(text: str) -> Iterator[re.Match[str]]:
    return _TEMPLATE.finditer(text)


def find_references(value: Any) -> list[Reference]:
    """Every reference in a (nested) config value, in order."""
    found: list[Reference] = []
    if isinstance(value, str):
        for match in iter_templates(value):
            found.append(parse_reference(match.group(1)))
    elif isinstance(value, Mapping):
        for item in value.values():
            found.extend(find_references(item))
    elif isinstance(value, list | tuple):
        for item in value:
            found.extend(find_references(item))
    return found


def is_whole_template(text: str) -> bool:
    match = _TEMPLATE.fullmatch(text)
    return match is not None


def normalize_label(label: str) -> str:
    """``"Fetch Data"`` -> ``"FetchData"``: how seed 003 writes labels in templates."""
    return _NOT_IDENT.sub("", label)


@dataclass
class NameIndex:
    """Maps the names a template may use (id, label, normalized label) to node ids."""

    ids: set[str] = field(default_factory=set)
    by_label: dict[str, set[str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_nodes(cls, nodes: list[SerializedNode]) -> NameIndex:
        index = cls()
        for node in nodes:
            index.add(node.id, node.label)
        return index

    @classmethod
    def from_definition(cls, definition: WorkflowDefinition) -> NameIndex:
        return cls.from_nodes(definition.nodes)

    def add(self, node_id: str, label: str) -> None:
        self.ids.add(node_id)
        self.labels[node_id] = label
        for name in {label, normalize_label(label)} - {""}:
            self.by_label.setdefault(name, set()).add(node_id)

    def lookup(self, name: str) -> set[str]:
        """Node ids a head names: an exact id wins, then exact label, then normalized."""
        if name in self.ids:
            return {name}
        if name in self.by_label:
            return self.by_label[name]
        return self.by_label.get(normalize_label(name), set())

    def describe(self, node_id: str) -> str:
        label = self.labels.get(node_id, "")
        short = normalize_label(label)
        return f"{short} ({node_id})" if short and short != node_id else node_id


@dataclass
class Scope:
    """What templates see at run time."""

    trigger: Any
    outputs: Mapping[str, Any]
    names: NameIndex
    locals: Mapping[str, Any] = field(default_factory=dict)

    def available_heads(self) -> list[str]:
        heads = [*self.locals, TRIGGER]
        heads += [self.names.describe(node_id) for node_id in self.outputs if node_id != TRIGGER]
        return heads

    def resolve_head(self, ref: Reference, template: str) -> Any:
        if ref.head in self.locals:
            return self.locals[ref.head]
        if ref.head == TRIGGER:
            return self.trigger
        ids = self.names.lookup(ref.head)
        if len(ids) > 1:
            raise TemplateError(
                f"'{template}' is ambiguous: {ref.head!r} names nodes "
                f"{', '.join(sorted(ids))}; refer to one by its id",
                template,
            )
        if not ids:
            available = self.available_heads()
            raise TemplateError(
                f"'{template}' refers to unknown node {ref.head!r}; "
                f"available: {', '.join(available) or 'nothing'}",
                template,
                available,
            )
        (node_id,) = ids
        if node_id not in self.outputs:
            raise TemplateError(
                f"'{template}' refers to node {self.names.describe(node_id)} which has no "
                "output yet (it was skipped, is disabled, or has not run)",
                template,
                self.available_heads(),
            )
        return self.outputs[node_id]

    def lookup(self, ref: Reference) -> Any:
        template = str(ref)
        value = self.resolve_head(ref, template)
        walked = ref.head
        for segment in ref.path:
            value = _step(value, segment, walked, template)
            walked += f"[{segment}]" if isinstance(segment, int) else f".{segment}"
        return value


def _step(value: Any, segment: str | int, walked: str, template: str) -> Any:
    if isinstance(value, Mapping):
        key = str(segment)
        if key in value:
            return value[key]
        keys = list(value.keys())
        raise TemplateError(
            f"'{template}': no field {key!r} at {walked}; "
            f"available: {', '.join(map(str, keys)) or 'none (empty object)'}",
            template,
            [str(k) for k in keys],
        )
    if isinstance(value, list):
        if isinstance(segment, int) or (isinstance(segment, str) and segment.lstrip("-").isdigit()):
            index = int(segment)
            if -len(value) <= index < len(value):
                return value[index]
            raise TemplateError(
                f"'{template}': index {index} is out of range at {walked} "
                f"(the list has {len(value)} items)",
                template,
            )
        raise TemplateError(
            f"'{template}': {walked} is a list; index it with [n], not .{segment}", template
        )
    raise TemplateError(
        f"'{template}': cannot read {segment!r} of {walked}, which is "
        f"{_json_type(value)}, not an object or list",
        template,
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def render_string(text: str, scope: Scope) -> Any:
    whole = _TEMPLATE.fullmatch(text)
    if whole is not None:
        return scope.lookup(parse_reference(whole.group(1)))
    if "{{" not in text:
        return text

    def substitute(match: re.Match[str]) -> str:
        return to_text(scope.lookup(parse_reference(match.group(1))))

    return _TEMPLATE.sub(substitute, text).replace("\\{{", "{{")


def render(value: Any, scope: Scope) -> Any:
    """Resolve every template in a (nested) value; raises TemplateError."""
    if isinstance(value, str):
        return render_string(value, scope)
    if isinstance(value, Mapping):
        return {key: render(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, scope) for item in value]
    return value
