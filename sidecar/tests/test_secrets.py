"""Secret stores and access policies (unit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wfb_sidecar import errors
from wfb_sidecar.resources import ResourceError, SecretScope
from wfb_sidecar.secrets import AppSecrets, EnvSecretStore, SecretNotFound, build_secret_store

pytestmark = pytest.mark.unit


def file_store(tmp_path: Path, content: object, **metadata: str):  # type: ignore[no-untyped-def]
    (tmp_path / "s.json").write_text(json.dumps(content))
    return build_secret_store(
        "s", "secretstores.local.file", {"secretsFile": "s.json", **metadata}, tmp_path, {}
    )


def test_flattening_with_a_custom_separator(tmp_path: Path) -> None:
    store = file_store(tmp_path, {"a": {"b": {"c": 1}}, "l": [True, None]}, nestedSeparator="__")
    assert store.get("a__b__c") == {"a__b__c": "1"}
    assert store.bulk() == {
        "a__b__c": {"a__b__c": "1"},
        "l__0": {"l__0": "true"},
        "l__1": {"l__1": ""},
    }
    with pytest.raises(SecretNotFound):
        store.get("a")


def test_relative_paths_are_relative_to_the_app_dir(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "shared.json").write_text("{}")
    store = build_secret_store(
        "s", "secretstores.local.file", {"secretsFile": "../shared.json"}, tmp_path / "app", {}
    )
    assert store.bulk() == {}


@pytest.mark.parametrize(
    ("content", "metadata", "message"),
    [
        (None, {}, "needs metadata 'secretsFile'"),
        ("[1]", {"secretsFile": "s.json"}, "must hold a JSON object"),
        ("{", {"secretsFile": "s.json"}, "cannot read"),
        ("{}", {"secretsFile": "s.json", "multiValued": "yes"}, "multiValued"),
    ],
)
def test_bad_configuration(
    tmp_path: Path, content: str | None, metadata: dict[str, str], message: str
) -> None:
    if content is not None:
        (tmp_path / "s.json").write_text(content)
    with pytest.raises(ResourceError, match=message):
        build_secret_store("s", "secretstores.local.file", metadata, tmp_path, {})


def test_a_half_written_file_keeps_the_previous_secrets(tmp_path: Path) -> None:
    store = file_store(tmp_path, {"k": "v"})
    (tmp_path / "s.json").write_text('{"k": ')
    import os

    os.utime(tmp_path / "s.json", (1, 1))
    assert store.get("k") == {"k": "v"}


def test_env_store_without_prefix() -> None:
    store = EnvSecretStore("e", {"A": "1", "B": "2"}, "")
    assert store.get("A") == {"A": "1"}
    assert store.bulk() == {"A": {"A": "1"}, "B": {"B": "2"}}


def test_policies() -> None:
    secrets = AppSecrets(
        stores={"e": EnvSecretStore("e", {"A": "1", "B": "2", "C": "3"}, "")},
        scopes={"e": SecretScope(storeName="e", deniedSecrets=["B"])},
    )
    assert secrets.get("e", "A") == {"A": "1"}
    with pytest.raises(errors.DaprError) as caught:
        secrets.get("e", "B")
    assert caught.value.http_status == 403
    assert set(secrets.bulk("e")) == {"A", "C"}
    with pytest.raises(errors.DaprError) as missing:
        secrets.get("x", "A")
    assert missing.value.error_code == "ERR_SECRET_STORE_NOT_FOUND"
    with pytest.raises(errors.DaprError) as none:
        AppSecrets().get("e", "A")
    assert none.value.error_code == "ERR_SECRET_STORES_NOT_CONFIGURED"


def test_allow_list_wins_over_deny_list() -> None:
    scope = SecretScope(
        storeName="s", allowedSecrets=["a"], deniedSecrets=["a"], defaultAccess="deny"
    )
    assert scope.allows("a")
    assert not scope.allows("b")
