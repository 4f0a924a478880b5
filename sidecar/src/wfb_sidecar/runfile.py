"""The Dapr multi-app run file (``dapr.yaml``), as ``dapr run -f`` reads it.

Only the fields this platform uses are modelled; unknown ones are kept and ignored.
Paths in the file are relative to the file's directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field


class RunFileError(ValueError):
    pass


class AppSpec(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    app_id: str = Field(alias="appID")
    app_dir_path: str = Field(default=".", alias="appDirPath")
    app_port: int | None = Field(default=None, alias="appPort")
    app_protocol: str = Field(default="http", alias="appProtocol")
    app_health_check_path: str = Field(default="/healthz", alias="appHealthCheckPath")
    dapr_http_port: int | None = Field(default=None, alias="daprHTTPPort")
    dapr_grpc_port: int | None = Field(default=None, alias="daprGRPCPort")
    resources_path: str | None = Field(default=None, alias="resourcesPath")
    resources_paths: list[str] | None = Field(default=None, alias="resourcesPaths")
    config_file_path: str | None = Field(default=None, alias="configFilePath")
    env: dict[str, str] = Field(default_factory=dict)
    command: list[str] = Field(default_factory=list)


class CommonSpec(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    resources_path: str | None = Field(default=None, alias="resourcesPath")
    resources_paths: list[str] | None = Field(default=None, alias="resourcesPaths")
    config_file_path: str | None = Field(default=None, alias="configFilePath")
    env: dict[str, str] = Field(default_factory=dict)


class RunFile(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: int = 1
    common: CommonSpec = Field(default_factory=CommonSpec)
    apps: list[AppSpec]
    base_dir: Path = Field(default=Path("."), exclude=True)

    def app(self, app_id: str) -> AppSpec:
        for app in self.apps:
            if app.app_id == app_id:
                return app
        raise KeyError(app_id)

    def app_dir(self, app: AppSpec) -> Path:
        return (self.base_dir / app.app_dir_path).resolve()

    def resources_dirs(self, app: AppSpec | None = None) -> list[Path]:
        """The app's resource directories (``resourcesPaths``/``resourcesPath``; the
        app's own setting replaces the common one, as in ``dapr run -f``)."""
        for spec in (app, self.common):
            if spec is None:
                continue
            paths = spec.resources_paths or ([spec.resources_path] if spec.resources_path else [])
            if paths:
                return [(self.base_dir / p).resolve() for p in paths]
        return []

    def resources_dir(self, app: AppSpec | None = None) -> Path | None:
        dirs = self.resources_dirs(app)
        return dirs[0] if dirs else None

    def app_env(self, app: AppSpec) -> dict[str, str]:
        """The environment ``dapr run`` gives an app: common env, app env, Dapr ports."""
        env: dict[str, str] = {**self.common.env, **app.env, "APP_ID": app.app_id}
        if app.app_port is not None:
            env["APP_PORT"] = str(app.app_port)
        if app.dapr_http_port is not None:
            env["DAPR_HTTP_PORT"] = str(app.dapr_http_port)
        if app.dapr_grpc_port is not None:
            env["DAPR_GRPC_PORT"] = str(app.dapr_grpc_port)
        return env


def load_run_file(path: Path) -> RunFile:
    """Read ``dapr.yaml`` (or a directory holding it)."""
    if path.is_dir():
        path = path / "dapr.yaml"
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileError(f"no run file at {path}") from None
    except yaml.YAMLError as exc:
        raise RunFileError(f"{path}: invalid YAML: {exc}") from None
    try:
        run_file = RunFile.model_validate(data)
    except ValueError as exc:
        raise RunFileError(f"{path}: {exc}") from None
    run_file.base_dir = path.parent.resolve()
    ids = [a.app_id for a in run_file.apps]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise RunFileError(f"{path}: duplicate appID {', '.join(sorted(duplicates))}")
    return run_file
