"""``wfb``: validate, inspect and convert workflow definitions; run the platform locally;
start runs on a running platform and answer their approvals."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from workflow_core.graph import CycleError, Graph
from workflow_core.io import DocumentError, Format, dump_data, read_document
from workflow_core.model import WorkflowDefinition
from workflow_core.schemas import FunctionSpec
from workflow_core.templates import NameIndex
from workflow_core.validation import validate_document

app = typer.Typer(
    name="wfb",
    help="Workflow builder command line: validate, inspect and convert workflow definitions, "
    "run the platform locally (dev), start and follow runs on it (run, approve).",
    no_args_is_help=True,
    add_completion=False,
)

FilesArg = Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)]


def _load_catalog(path: Path | None) -> dict[str, FunctionSpec] | None:
    if path is None:
        return None
    data = read_document(path)
    items = data.get("items", data) if isinstance(data, dict) else data
    return {spec.slug: spec for spec in (FunctionSpec.model_validate(i) for i in items)}


@app.command()
def validate(
    files: FilesArg,
    functions: Annotated[
        Path | None,
        typer.Option(
            help="JSON/YAML list of functions (slug, inputSchema, outputSchema) "
            "to check actions and types against"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print issues as JSON")] = False,
    strict: Annotated[bool, typer.Option(help="treat warnings as errors")] = False,
) -> None:
    """Validate definitions; print every problem with its node id. Exit 1 on any error."""
    catalog = _load_catalog(functions)
    failed = False
    results = {}
    for path in files:
        try:
            report = validate_document(read_document(path), catalog)
        except DocumentError as exc:
            failed = True
            results[str(path)] = [{"code": "unreadable", "message": str(exc), "severity": "error"}]
            if not as_json:
                typer.echo(f"{path}: error: {exc}", err=True)
            continue
        bad = not report.ok or (strict and report.warnings)
        failed |= bool(bad)
        results[str(path)] = [i.model_dump(by_alias=True, exclude_none=True) for i in report.issues]
        if as_json:
            continue
        for issue in report.issues:
            typer.echo(f"{path}: {issue}", err=issue.severity == "error")
        if not report.issues:
            typer.echo(f"{path}: ok")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    raise typer.Exit(1 if failed else 0)


@app.command()
def inspect(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Show the parallel groups (levels) and the upstream nodes of each node."""
    definition = WorkflowDefinition.model_validate(read_document(file))
    graph = Graph.from_definition(definition)
    names = NameIndex.from_definition(definition)
    try:
        levels = graph.levels()
    except CycleError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"{definition.name or definition.id}: {len(definition.nodes)} nodes, "
        f"{len(definition.edges)} edges, {len(levels)} levels"
    )
    typer.echo("\nparallel groups:")
    for i, group in enumerate(levels):
        typer.echo(f"  level {i}: {', '.join(names.describe(n) for n in group)}")
    typer.echo("\nupstream of each node:")
    for node_id in (n for group in levels for n in group):
        upstream = sorted(graph.upstream(node_id))
        node = definition.node(node_id)
        state = "" if node.enabled else " [disabled]"
        typer.echo(
            f"  {names.describe(node_id)} ({node.type}){state}: "
            f"{', '.join(upstream) if upstream else '-'}"
        )


@app.command()
def convert(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    to: Annotated[str, typer.Option(help="target format: yaml or json")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
) -> None:
    """Convert a definition between JSON and YAML without losing anything."""
    if to not in ("yaml", "json"):
        typer.echo(f"--to must be yaml or json, not {to!r}", err=True)
        raise typer.Exit(2)
    fmt: Format = "yaml" if to == "yaml" else "json"
    try:
        data = read_document(file)
    except DocumentError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(1) from None
    WorkflowDefinition.model_validate(data)  # refuse to convert what is not a definition
    text = dump_data(data, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def dev(
    run_file: Annotated[Path, typer.Option("--run-file", help="the multi-app run file")] = Path(
        "dapr.yaml"
    ),
    data_dir: Annotated[Path, typer.Option(help="where SQLite files and state live")] = Path(
        ".data"
    ),
    app_ids: Annotated[
        list[str] | None, typer.Option("--app", help="start only these app ids (repeatable)")
    ] = None,
    log_format: Annotated[str, typer.Option(help="app log format: text or json")] = "text",
    ready_timeout: Annotated[float, typer.Option(help="seconds to wait for readiness")] = 90,
    colour: Annotated[bool, typer.Option("--colour/--no-colour")] = True,
) -> None:
    """Run the whole platform locally: the sidecar and every app of dapr.yaml."""
    import asyncio

    from wfb_cli.dev import build_processes, run_platform
    from wfb_sidecar.runfile import RunFileError, load_run_file

    try:
        spec = load_run_file(run_file)
    except RunFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    unknown = set(app_ids or ()) - {a.app_id for a in spec.apps}
    if unknown:
        typer.echo(f"{run_file}: no app {', '.join(sorted(unknown))}", err=True)
        raise typer.Exit(2)
    if log_format not in ("text", "json"):
        typer.echo("--log-format must be text or json", err=True)
        raise typer.Exit(2)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    run_file_path = run_file / "dapr.yaml" if run_file.is_dir() else run_file
    processes = build_processes(
        spec, run_file_path.resolve(), data_dir, log_format, set(app_ids) if app_ids else None
    )
    use_colour = colour and sys.stdout.isatty()
    raise typer.Exit(asyncio.run(run_platform(processes, ready_timeout, use_colour)))


UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="WFB_URL",
        help="the orchestrator's address (`make run` / `wfb dev` serve it on port 8080)",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        "--api-key",
        envvar="WFB_TOKEN",
        help="an API key of the project (wfb_...), or a user's access token with --project",
    ),
]


def _fail(exc: Exception, code: int) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code)


def _read_input(text: str | None, file: Path | None) -> Any:
    from wfb_cli.remote import EXIT_USAGE

    if text is not None and file is not None:
        raise _fail(ValueError("give --input or --input-file, not both"), EXIT_USAGE)
    if file is not None:
        try:
            return read_document(file)
        except DocumentError as exc:
            raise _fail(exc, EXIT_USAGE) from None
    if text is None:
        return {}
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail(ValueError(f"--input is not JSON: {exc}"), EXIT_USAGE) from None


def _check_input(definition: dict[str, Any], trigger_data: Any) -> list[str]:
    """The trigger's inputSchema against the input, as the orchestrator will check it."""
    import jsonschema

    for node in definition.get("nodes", []):
        schema = (
            node.get("config", {}).get("inputSchema") if node.get("type") == "trigger" else None
        )
        if isinstance(schema, dict):
            validator = jsonschema.Draft202012Validator(schema)
            return [
                f"input{''.join(f'[{p!r}]' for p in e.absolute_path)}: {e.message}"
                for e in validator.iter_errors(trigger_data)
            ]
    return []


@app.command()
def run(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    input_text: Annotated[
        str | None, typer.Option("--input", help="trigger data as JSON, e.g. '{\"n\": 1}'")
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option("--input-file", exists=True, dir_okay=False, help="trigger data (JSON/YAML)"),
    ] = None,
    url: UrlOption = "http://127.0.0.1:8080",
    token: TokenOption = None,
    project: Annotated[
        str | None,
        typer.Option(envvar="WFB_PROJECT", help="project of the run (needed with a user token)"),
    ] = None,
    wait_timeout: Annotated[
        float | None,
        typer.Option(help="stop following after this many seconds (exit 124; the run goes on)"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print each event, then the final status, as JSON")
    ] = False,
) -> None:
    """Validate FILE, start it on a running platform and follow its events to the end.

    Exit 0 when the run completed, 1 when it failed, was terminated, rejected or timed out
    at an approval gate, 2 on usage or validation errors (also those the platform reports),
    3 when the platform cannot be reached or fails, 124 when --wait-timeout ran out.
    """
    import time

    import httpx

    from wfb_cli import remote

    try:
        data = read_document(file)
    except DocumentError as exc:
        raise _fail(exc, remote.EXIT_USAGE) from None
    report = validate_document(data)
    for issue in report.issues:
        typer.echo(f"{file}: {issue}", err=True)
    if not report.ok:
        raise typer.Exit(remote.EXIT_USAGE)
    trigger_data = _read_input(input_text, input_file)
    problems = _check_input(data, trigger_data)
    for problem in problems:
        typer.echo(f"{file}: {problem}", err=True)
    if problems:
        raise typer.Exit(remote.EXIT_USAGE)
    target = remote.Target(url.rstrip("/"), token)
    labels = {"trigger": "manual", **({"projectId": project} if project else {})}
    deadline = time.monotonic() + wait_timeout if wait_timeout else None

    def emit(event: dict[str, Any]) -> None:
        typer.echo(json.dumps(event, ensure_ascii=False) if as_json else remote.describe(event))

    instance_id = None
    try:
        with httpx.Client() as client:
            started = remote.start_run(client, target, data, trigger_data, labels)
            instance_id = str(started["instanceId"])
            typer.echo(f"started run {instance_id} on {target.url}", err=True)
            follower = remote.Follower(client, target, instance_id, emit, deadline=deadline)
            status = follower.run()
    except remote.CliError as exc:
        raise _fail(exc, exc.code) from None
    except KeyboardInterrupt:
        if instance_id:
            typer.echo(f"\nstopped following; run {instance_id} goes on", err=True)
        raise typer.Exit(130) from None
    if as_json:
        typer.echo(json.dumps(status, ensure_ascii=False))
    else:
        typer.echo(remote.summary(status))
    raise typer.Exit(remote.outcome_code(status))


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="the run's instance id")],
    node: Annotated[str, typer.Argument(metavar="NODE", help="the approval gate's node id")],
    reject: Annotated[bool, typer.Option("--reject", help="reject instead of approve")] = False,
    reason: Annotated[str | None, typer.Option(help="why (recorded with the answer)")] = None,
    url: UrlOption = "http://127.0.0.1:8080",
    token: TokenOption = None,
) -> None:
    """Approve (or --reject) the approval gate NODE of a waiting run.

    Exit 0 when the answer was accepted, 1 when the gate is not waiting, 2 on usage errors
    or an unknown run, 3 when the platform cannot be reached.
    """
    import httpx

    from wfb_cli import remote

    target = remote.Target(url.rstrip("/"), token)
    try:
        with httpx.Client() as client:
            remote.answer_approval(client, target, run_id, node, not reject, reason)
    except remote.CliError as exc:
        raise _fail(exc, exc.code) from None
    typer.echo(f"{'rejected' if reject else 'approved'} {node} of run {run_id}")


if __name__ == "__main__":
    app()
