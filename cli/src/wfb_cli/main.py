"""``wfb``: validate, inspect and convert workflow definitions (and, later, run them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from workflow_core.graph import CycleError, Graph
from workflow_core.io import DocumentError, Format, dump_data, read_document
from workflow_core.model import WorkflowDefinition
from workflow_core.schemas import FunctionSpec
from workflow_core.templates import NameIndex
from workflow_core.validation import validate_document

app = typer.Typer(
    name="wfb",
    help="Workflow builder command line: validate, inspect and convert workflow definitions.",
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


if __name__ == "__main__":
    app()
