"""Secret stores: ``secretstores.local.file`` and ``secretstores.local.env``.

Both behave as Dapr's components of the same type:

- local.file reads a JSON file. With ``multiValued: "false"`` (default) the whole
  document is flattened with ``nestedSeparator`` (default ``:``): ``{"db": {"password":
  "x"}}`` gives the secret ``db:password`` = ``{"db:password": "x"}``. With
  ``multiValued: "true"`` each top-level key is one secret holding its (flattened)
  children: ``db`` = ``{"password": "x"}``. Relative ``secretsFile`` paths are relative
  to the app's directory, as daprd resolves them under ``dapr run -f`` (daprd runs in
  ``appDirPath``). The file is re-read when it changes.
- local.env reads the environment the sidecar gives the app (the process environment
  plus the run file's ``env``); ``prefix`` limits it to variables with that prefix.

Access is filtered by the app's Configuration ``secrets.scopes`` (``defaultAccess``,
``allowedSecrets``, ``deniedSecrets``) like daprd does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wfb_sidecar import errors
from wfb_sidecar.resources import ResourceError, SecretScope


class SecretNotFound(KeyError):
    pass


class SecretStore(Protocol):
    name: str
    type: str

    def get(self, key: str) -> dict[str, str]: ...

    def bulk(self) -> dict[str, dict[str, str]]: ...


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _flatten(value: Any, prefix: str, separator: str, into: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(child, f"{prefix}{separator}{key}" if prefix else str(key), separator, into)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _flatten(
                child, f"{prefix}{separator}{index}" if prefix else str(index), separator, into
            )
    else:
        into[prefix] = _scalar(value)


class LocalFileSecretStore:
    type = "secretstores.local.file"

    def __init__(self, name: str, path: Path, nested_separator: str, multi_valued: bool) -> None:
        self.name = name
        self.path = path
        self.separator = nested_separator
        self.multi_valued = multi_valued
        self._mtime: float | None = None
        self._secrets: dict[str, dict[str, str]] = {}
        self._load()

    def _load(self) -> None:
        try:
            stat = self.path.stat()
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResourceError(
                f"secret store {self.name!r}: secretsFile {self.path} does not exist"
            ) from None
        except (OSError, ValueError) as exc:
            raise ResourceError(
                f"secret store {self.name!r}: cannot read {self.path} as JSON: {exc}"
            ) from None
        if not isinstance(document, dict):
            raise ResourceError(f"secret store {self.name!r}: {self.path} must hold a JSON object")
        self._secrets = self._index(document)
        self._mtime = stat.st_mtime

    def _index(self, document: dict[str, Any]) -> dict[str, dict[str, str]]:
        if self.multi_valued:
            result: dict[str, dict[str, str]] = {}
            for key, value in document.items():
                values: dict[str, str] = {}
                if isinstance(value, dict | list):
                    _flatten(value, "", self.separator, values)
                else:
                    values[key] = _scalar(value)
                result[key] = values
            return result
        flat: dict[str, str] = {}
        _flatten(document, "", self.separator, flat)
        return {key: {key: value} for key, value in flat.items()}

    def _refresh(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return  # keep serving what was read; a vanished file is not an empty store
        if mtime != self._mtime:
            try:
                self._load()
            except ResourceError:
                return  # a half-written file: keep the previous content until it is valid

    def get(self, key: str) -> dict[str, str]:
        self._refresh()
        if key not in self._secrets:
            raise SecretNotFound(f"secret {key} not found")
        return dict(self._secrets[key])

    def bulk(self) -> dict[str, dict[str, str]]:
        self._refresh()
        return {key: dict(values) for key, values in self._secrets.items()}


class EnvSecretStore:
    type = "secretstores.local.env"

    def __init__(self, name: str, environ: Mapping[str, str], prefix: str) -> None:
        self.name = name
        self.environ = environ
        self.prefix = prefix

    def get(self, key: str) -> dict[str, str]:
        name = f"{self.prefix}{key}"
        if name not in self.environ:
            raise SecretNotFound(f"secret {key} not found")
        return {key: self.environ[name]}

    def bulk(self) -> dict[str, dict[str, str]]:
        return {
            name[len(self.prefix) :]: {name[len(self.prefix) :]: value}
            for name, value in self.environ.items()
            if name.startswith(self.prefix) and len(name) > len(self.prefix)
        }


def build_secret_store(
    name: str, type_: str, metadata: Mapping[str, str], app_dir: Path, environ: Mapping[str, str]
) -> SecretStore:
    if type_ == "secretstores.local.env":
        return EnvSecretStore(name, environ, metadata.get("prefix", ""))
    secrets_file = metadata.get("secretsFile")
    if not secrets_file:
        raise ResourceError(f"secret store {name!r} ({type_}) needs metadata 'secretsFile'")
    path = Path(secrets_file)
    if not path.is_absolute():
        path = (app_dir / path).resolve()
    multi = metadata.get("multiValued", "false").strip().lower()
    if multi not in ("true", "false"):
        raise ResourceError(f"secret store {name!r}: multiValued must be 'true' or 'false'")
    return LocalFileSecretStore(name, path, metadata.get("nestedSeparator", ":"), multi == "true")


@dataclass
class AppSecrets:
    """The secret stores one app may use, with its Configuration's secret scopes."""

    stores: dict[str, SecretStore] = field(default_factory=dict)
    scopes: dict[str, SecretScope] = field(default_factory=dict)

    def _store(self, name: str) -> SecretStore:
        if not self.stores:
            raise errors.DaprError(
                "ERR_SECRET_STORES_NOT_CONFIGURED", "secret store is not configured"
            )
        store = self.stores.get(name)
        if store is None:
            raise errors.secret_store_not_found(name)
        return store

    def allowed(self, store: str, key: str) -> bool:
        scope = self.scopes.get(store)
        return scope is None or scope.allows(key)

    def get(self, store_name: str, key: str) -> dict[str, str]:
        store = self._store(store_name)
        if not key:
            raise errors.bad_request("secret key must not be empty")
        if not self.allowed(store_name, key):
            raise errors.secret_denied(key, store_name)
        try:
            return store.get(key)
        except SecretNotFound as exc:
            raise errors.secret_get(key, store_name, str(exc.args[0])) from None

    def bulk(self, store_name: str) -> dict[str, dict[str, str]]:
        store = self._store(store_name)
        return {k: v for k, v in store.bulk().items() if self.allowed(store_name, k)}

    def resolve(self, store_name: str, name: str, key: str | None) -> str:
        """A component's ``secretKeyRef``: the value ``key`` (default ``name``) of ``name``."""
        values = self._store(store_name).get(name)
        wanted = key or name
        if wanted not in values:
            raise SecretNotFound(f"secret {name} has no key {wanted}")
        return values[wanted]


def process_environment() -> dict[str, str]:
    return dict(os.environ)
