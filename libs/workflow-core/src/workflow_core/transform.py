"""The transform DSL (seed 004 §3.5): a pipeline of operations over JSON data.

Pure and deterministic, so the orchestrator can evaluate it inside workflow code and the
function runner as ``system/transform``: no I/O, no clock, and the random operations
(``randomOne``, ``randomN``, ``shuffle``) draw from a generator seeded by the operation's
``seed`` or the pipeline's.

Each step is ``{"operation": name, ...options}``. Field paths are dotted
(``address.city``, ``items.0.id``). String and math operations take an optional ``field``:
with it they change that field of every object (or write to ``as``); without it they apply
to the value itself, or to each element of a list of scalars.

- data: select, filter, map, flatMap, flatten, unique, limit, skip, reverse
- aggregation: groupBy, aggregate (sum avg count min max), join, sortBy / sort
- strings: uppercase, lowercase, trim, split, concat, replace, substring, template
- math: round, floor, ceil, abs, clamp, scale, percentage
- random: randomOne, randomN, shuffle
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING = object()
_TEMPLATE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class TransformError(ValueError):
    """A pipeline step that cannot run; the message names the step and the problem."""


def get_path(value: Any, path: str, default: Any = None) -> Any:
    """``a.b.0.c`` through objects and lists; ``default`` when any part is missing."""
    if path in ("", "."):
        return value
    current = value
    for part in path.split("."):
        if isinstance(current, Mapping):
            if part not in current:
                return default
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return default
            current = current[index]
        else:
            return default
    return current


def _set(item: Any, path: str, value: Any) -> Any:
    if not isinstance(item, Mapping):
        raise TransformError(f"cannot set field {path!r} on a {_kind(item)}")
    head, _, rest = path.partition(".")
    copy = dict(item)
    copy[head] = _set(copy.get(head, {}), rest, value) if rest else value
    return copy


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _list(data: Any, op: str) -> list[Any]:
    if not isinstance(data, list):
        raise TransformError(f"{op} needs a list, got {_kind(data)}")
    return data


def _int(step: Mapping[str, Any], key: str, op: str, default: int | None = None) -> int:
    value = step.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TransformError(f"{op} needs {key!r} as a non-negative integer")
    return int(value)


def _num(value: Any, op: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TransformError(f"{op} needs numbers, got {_kind(value)}")
    return float(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (3, 0)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, repr(value))


# --- filter ------------------------------------------------------------------------------


def _compare(op_name: str, actual: Any, expected: Any) -> bool:
    try:
        match op_name:
            case "eq":
                return bool(actual == expected)
            case "ne":
                return bool(actual != expected)
            case "gt":
                return actual is not None and actual > expected
            case "gte":
                return actual is not None and actual >= expected
            case "lt":
                return actual is not None and actual < expected
            case "lte":
                return actual is not None and actual <= expected
            case "in":
                return isinstance(expected, list) and actual in expected
            case "contains":
                if isinstance(actual, str):
                    return isinstance(expected, str) and expected in actual
                return isinstance(actual, list) and expected in actual
            case "startsWith":
                return isinstance(actual, str) and actual.startswith(str(expected))
            case "endsWith":
                return isinstance(actual, str) and actual.endswith(str(expected))
            case "exists":
                return (actual is not _MISSING) == bool(True if expected is None else expected)
            case "regex":
                return isinstance(actual, str) and re.search(str(expected), actual) is not None
    except TypeError:
        return False
    except re.error as exc:
        raise TransformError(f"filter regex {expected!r} is invalid: {exc}") from None
    raise TransformError(
        f"filter operator {op_name!r} is unknown; use eq ne gt gte lt lte in contains "
        "startsWith endsWith exists regex"
    )


def _filter(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    items = _list(data, "filter")
    field = step.get("field")
    operator = step.get("operator", "eq")
    expected = step.get("value")
    if operator == "regex":
        try:
            re.compile(str(expected))
        except re.error as exc:
            raise TransformError(f"filter regex {expected!r} is invalid: {exc}") from None
    out = []
    for item in items:
        actual = get_path(item, field, _MISSING) if field else item
        if operator != "exists" and actual is _MISSING:
            actual = None
        if _compare(operator, actual, expected):
            out.append(item)
    return out


# --- data ----------------------------------------------------------------------------------


def _select(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    fields = step.get("fields")
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise TransformError("select needs 'fields' as a list of field paths")

    def pick(item: Any) -> dict[str, Any]:
        return {f: get_path(item, f) for f in fields}

    return [pick(i) for i in data] if isinstance(data, list) else pick(data)


def _map(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    mappings = step.get("mappings")
    if not isinstance(mappings, Mapping) or not mappings:
        raise TransformError("map needs 'mappings': {newField: 'source.path'}")

    def one(item: Any) -> dict[str, Any]:
        return {
            str(target): _render(source, item)
            if "{{" in str(source)
            else get_path(item, str(source))
            for target, source in mappings.items()
        }

    return [one(i) for i in data] if isinstance(data, list) else one(data)


def _flat_map(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    field = step.get("field")
    out: list[Any] = []
    for item in _list(data, "flatMap"):
        value = get_path(item, field) if field else item
        out.extend(value if isinstance(value, list) else [] if value is None else [value])
    return out


def _flatten(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    depth = _int(step, "depth", "flatten", 1)
    items = _list(data, "flatten")
    for _ in range(depth):
        flat: list[Any] = []
        for item in items:
            flat.extend(item if isinstance(item, list) else [item])
        items = flat
    return items


def _unique(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    field = step.get("field")
    seen: list[Any] = []
    out = []
    for item in _list(data, "unique"):
        key = get_path(item, field) if field else item
        if key not in seen:
            seen.append(key)
            out.append(item)
    return out


def _limit(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    return _list(data, "limit")[: _int(step, "count", "limit")]


def _skip(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    return _list(data, "skip")[_int(step, "count", "skip") :]


def _reverse(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    if isinstance(data, str):
        return data[::-1]
    return list(reversed(_list(data, "reverse")))


def _sort(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    field = step.get("field")
    order = step.get("order", "asc")
    if order not in ("asc", "desc"):
        raise TransformError("sort 'order' must be 'asc' or 'desc'")
    items = _list(data, "sort")
    present = [i for i in items if (get_path(i, field) if field else i) is not None]
    missing = [i for i in items if (get_path(i, field) if field else i) is None]
    present.sort(
        key=lambda i: _sort_key(get_path(i, field) if field else i), reverse=order == "desc"
    )
    return present + missing


# --- aggregation ------------------------------------------------------------------------------


def _group_by(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    field = step.get("field")
    if not isinstance(field, str):
        raise TransformError("groupBy needs 'field'")
    groups: dict[str, list[Any]] = {}
    keys: dict[str, Any] = {}
    for item in _list(data, "groupBy"):
        key = get_path(item, field)
        marker = repr(key)
        groups.setdefault(marker, []).append(item)
        keys[marker] = key
    return [{"key": keys[m], "items": items, "count": len(items)} for m, items in groups.items()]


_AGGREGATES: dict[str, Callable[[list[float]], float | None]] = {
    "sum": lambda xs: sum(xs),
    "avg": lambda xs: sum(xs) / len(xs) if xs else None,
    "min": lambda xs: min(xs) if xs else None,
    "max": lambda xs: max(xs) if xs else None,
}


def _aggregate_items(items: list[Any], specs: list[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in specs:
        function = spec.get("function", spec.get("op"))
        field = spec.get("field")
        name = str(spec.get("as") or (f"{function}_{field}" if field else str(function)))
        values = [get_path(i, field) if field else i for i in items]
        if function == "count":
            out[name] = len([v for v in values if v is not None]) if field else len(items)
            continue
        if function not in _AGGREGATES:
            raise TransformError(
                f"aggregate function {function!r} is unknown; use sum avg count min max"
            )
        numbers = [_num(v, f"aggregate {function}") for v in values if v is not None]
        result = _AGGREGATES[str(function)](numbers)
        out[name] = (
            int(result)
            if isinstance(result, float) and result.is_integer() and function != "avg"
            else result
        )
    return out


def _aggregate(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    specs = step.get("aggregations")
    if specs is None and ("function" in step or "op" in step):
        specs = [step]
    if not isinstance(specs, list) or not specs:
        raise TransformError("aggregate needs 'aggregations': [{field, function, as}]")
    items = _list(data, "aggregate")
    if items and all(isinstance(g, Mapping) and "items" in g and "key" in g for g in items):
        return [{**g, **_aggregate_items(list(g["items"]), specs)} for g in items]
    return _aggregate_items(items, specs)


def _join(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    other = step.get("with")
    if not isinstance(other, list):
        raise TransformError("join needs 'with': the list to join")
    left_field = step.get("leftField", step.get("on"))
    right_field = step.get("rightField", step.get("on"))
    if not isinstance(left_field, str) or not isinstance(right_field, str):
        raise TransformError("join needs 'on' (or 'leftField' and 'rightField')")
    kind = step.get("type", "inner")
    if kind not in ("inner", "left"):
        raise TransformError("join 'type' must be 'inner' or 'left'")
    target = step.get("as")
    index: dict[str, list[Any]] = {}
    for right in other:
        index.setdefault(repr(get_path(right, right_field)), []).append(right)
    out = []
    for left in _list(data, "join"):
        matches = index.get(repr(get_path(left, left_field)), [])
        if not matches and kind == "left":
            out.append(dict(left) if not target else {**left, target: None})
        for right in matches:
            if target:
                out.append({**left, target: right})
            else:
                out.append({**(right if isinstance(right, Mapping) else {}), **left})
    return out


# --- strings -------------------------------------------------------------------------------


def _each_value(data: Any, step: Mapping[str, Any], op: str, fn: Callable[[Any], Any]) -> Any:
    """Apply ``fn`` to ``field`` of each object (or to ``as``), or to the value(s)."""
    field = step.get("field")
    target = step.get("as") or field
    if field:

        def on_item(item: Any) -> Any:
            return _set(item, str(target), fn(get_path(item, str(field))))

        return [on_item(i) for i in data] if isinstance(data, list) else on_item(data)
    if isinstance(data, list) and op not in ("concat", "split"):
        return [fn(v) for v in data]
    return fn(data)


def _string_op(name: str, fn: Callable[[str, Mapping[str, Any]], Any]) -> Callable[..., Any]:
    def run(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
        def apply(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, str):
                raise TransformError(f"{name} needs strings, got {_kind(value)}")
            return fn(value, step)

        return _each_value(data, step, name, apply)

    return run


def _replace(value: str, step: Mapping[str, Any]) -> str:
    search = step.get("search", step.get("pattern"))
    replacement = str(step.get("replacement", step.get("replace", "")))
    if not isinstance(search, str) or not search:
        raise TransformError("replace needs 'search' (or 'pattern' with regex: true)")
    if step.get("regex"):
        try:
            return re.sub(search, replacement, value)
        except re.error as exc:
            raise TransformError(f"replace regex {search!r} is invalid: {exc}") from None
    return value.replace(search, replacement)


def _substring(value: str, step: Mapping[str, Any]) -> str:
    start = step.get("start", 0)
    end = step.get("end")
    if not isinstance(start, int) or (end is not None and not isinstance(end, int)):
        raise TransformError("substring needs integer 'start' (and optional 'end')")
    return value[start:end]


def _split(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    separator = step.get("separator", ",")
    if not isinstance(separator, str) or not separator:
        raise TransformError("split needs a non-empty 'separator'")

    def apply(value: Any) -> Any:
        if not isinstance(value, str):
            raise TransformError(f"split needs a string, got {_kind(value)}")
        parts = value.split(separator)
        return [p.strip() for p in parts] if step.get("trim", False) else parts

    if not step.get("field") and isinstance(data, list):
        return [apply(v) for v in data]
    return _each_value(data, step, "split", apply)


def _concat(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    separator = str(step.get("separator", ""))
    fields = step.get("fields")
    if isinstance(fields, list):
        target = str(step.get("as") or "concat")

        def joined(item: Any) -> Any:
            parts = [get_path(item, f) for f in fields]
            text = separator.join("" if p is None else str(p) for p in parts)
            return _set(item, target, text)

        return [joined(i) for i in data] if isinstance(data, list) else joined(data)
    if isinstance(data, list):
        return separator.join("" if v is None else str(v) for v in data)
    values = step.get("values")
    if isinstance(values, list):
        return separator.join([str(data), *(str(v) for v in values)])
    raise TransformError("concat needs a list, 'fields' of objects, or 'values' to append")


def _render(template: Any, item: Any) -> str:
    def substitute(match: re.Match[str]) -> str:
        value = get_path(item, match.group(1))
        return "" if value is None else str(value)

    return _TEMPLATE.sub(substitute, str(template))


def _template(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    template = step.get("template")
    if not isinstance(template, str):
        raise TransformError("template needs 'template', e.g. 'Hello {{name}}'")
    target = step.get("as")
    if isinstance(data, list):
        if target:
            return [_set(i, str(target), _render(template, i)) for i in data]
        return [_render(template, i) for i in data]
    return _set(data, str(target), _render(template, data)) if target else _render(template, data)


# --- math ----------------------------------------------------------------------------------


def _math_op(name: str, fn: Callable[[float, Mapping[str, Any]], Any]) -> Callable[..., Any]:
    def run(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
        def apply(value: Any) -> Any:
            if value is None:
                return None
            return fn(_num(value, name), step)

        return _each_value(data, step, name, apply)

    return run


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _round(value: float, step: Mapping[str, Any]) -> int | float:
    decimals = step.get("decimals", 0)
    if not isinstance(decimals, int) or not 0 <= decimals <= 15:
        raise TransformError("round 'decimals' must be an integer 0-15")
    return _number(round(value, decimals)) if decimals else round(value)


def _clamp(value: float, step: Mapping[str, Any]) -> int | float:
    low = step.get("min", -math.inf)
    high = step.get("max", math.inf)
    return _number(min(max(value, _num(low, "clamp")), _num(high, "clamp")))


def _scale(value: float, step: Mapping[str, Any]) -> int | float:
    if "factor" in step:
        return _number(value * _num(step["factor"], "scale"))
    try:
        from_min, from_max = _num(step["fromMin"], "scale"), _num(step["fromMax"], "scale")
        to_min, to_max = _num(step["toMin"], "scale"), _num(step["toMax"], "scale")
    except KeyError:
        raise TransformError("scale needs 'factor', or fromMin fromMax toMin toMax") from None
    if from_max == from_min:
        raise TransformError("scale needs fromMin != fromMax")
    return _number(to_min + (value - from_min) * (to_max - to_min) / (from_max - from_min))


def _percentage(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    field = step.get("field")
    decimals = step.get("decimals", 2)
    total = step.get("total")
    if total is None:
        items = _list(data, "percentage without 'total'")
        total = sum(_num(get_path(i, field) if field else i, "percentage") for i in items)
    total_f = _num(total, "percentage")

    def apply(value: Any) -> Any:
        if value is None:
            return None
        if total_f == 0:
            return 0
        return _number(round(_num(value, "percentage") * 100 / total_f, int(decimals)))

    step = {**step, "as": step.get("as") or (f"{field}Percentage" if field else None)}
    return _each_value(data, step, "percentage", apply)


# --- random (seeded) -----------------------------------------------------------------------


def _rng(step: Mapping[str, Any], ctx: _Ctx, op: str) -> random.Random:
    seed = step.get("seed", ctx.seed)
    if seed is None:
        raise TransformError(f"{op} needs a 'seed' (on the step or the pipeline)")
    if not isinstance(seed, int | str) or isinstance(seed, bool):
        raise TransformError(f"{op} 'seed' must be an integer or a string")
    ctx.random_calls += 1
    return random.Random(f"{seed}:{ctx.random_calls}")  # noqa: S311 - not for security


def _random_one(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    items = _list(data, "randomOne")
    return _rng(step, ctx, "randomOne").choice(items) if items else None


def _random_n(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    items = _list(data, "randomN")
    count = min(_int(step, "count", "randomN"), len(items))
    return _rng(step, ctx, "randomN").sample(items, count)


def _shuffle(data: Any, step: Mapping[str, Any], ctx: _Ctx) -> Any:
    items = list(_list(data, "shuffle"))
    _rng(step, ctx, "shuffle").shuffle(items)
    return items


class _Ctx:
    def __init__(self, seed: int | str | None) -> None:
        self.seed = seed
        self.random_calls = 0


Operation = Callable[[Any, Mapping[str, Any], _Ctx], Any]
OPERATIONS: dict[str, Operation] = {
    "select": _select,
    "filter": _filter,
    "map": _map,
    "flatMap": _flat_map,
    "flatten": _flatten,
    "unique": _unique,
    "limit": _limit,
    "skip": _skip,
    "reverse": _reverse,
    "groupBy": _group_by,
    "aggregate": _aggregate,
    "join": _join,
    "sortBy": _sort,
    "sort": _sort,
    "uppercase": _string_op("uppercase", lambda v, s: v.upper()),
    "lowercase": _string_op("lowercase", lambda v, s: v.lower()),
    "trim": _string_op("trim", lambda v, s: v.strip()),
    "split": _split,
    "concat": _concat,
    "replace": _string_op("replace", _replace),
    "substring": _string_op("substring", _substring),
    "template": _template,
    "round": _math_op("round", _round),
    "floor": _math_op("floor", lambda v, s: math.floor(v)),
    "ceil": _math_op("ceil", lambda v, s: math.ceil(v)),
    "abs": _math_op("abs", lambda v, s: _number(abs(v))),
    "clamp": _math_op("clamp", _clamp),
    "scale": _math_op("scale", _scale),
    "percentage": _percentage,
    "randomOne": _random_one,
    "randomN": _random_n,
    "shuffle": _shuffle,
}


def apply_pipeline(
    source: Any, pipeline: Sequence[Mapping[str, Any]], *, seed: int | str | None = None
) -> Any:
    """Run every step over ``source``; raises :class:`TransformError` naming the step."""
    ctx = _Ctx(seed)
    data = source
    for position, step in enumerate(pipeline, start=1):
        if not isinstance(step, Mapping):
            raise TransformError(f"step {position} must be an object with 'operation'")
        name = step.get("operation")
        operation = OPERATIONS.get(str(name))
        if operation is None:
            known = ", ".join(sorted(OPERATIONS))
            raise TransformError(f"step {position}: unknown operation {name!r}; known: {known}")
        try:
            data = operation(data, step, ctx)
        except TransformError as exc:
            raise TransformError(f"step {position} ({name}): {exc}") from None
    return data


def result_count(result: Any) -> int:
    """``count`` of ``system/transform``: the length of a list, else 1 (0 for null)."""
    if isinstance(result, list):
        return len(result)
    return 0 if result is None else 1
