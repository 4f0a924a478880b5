"""A workflow function: read INPUT (JSON), print one JSON line with the result."""

import json
import os
import sys


def read_input() -> dict:
    path = os.environ.get("INPUT_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(os.environ.get("INPUT") or "{}")


def handle(data: dict) -> dict:
    value = data.get("value", 0)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"'value' must be a number, not {value!r}")
    return {
        "processed": value * 2,
        "words": len(str(data.get("text", "")).split()),
        "nodeId": os.environ.get("NODE_ID"),
    }


def main() -> int:
    try:
        result = handle(read_input())
    except (ValueError, OSError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - a container logs to stderr
        return 1
    print(f"processed input for node {os.environ.get('NODE_ID')}", file=sys.stderr)  # noqa: T201
    print(json.dumps(result))  # noqa: T201 - the result line
    return 0


if __name__ == "__main__":
    sys.exit(main())
