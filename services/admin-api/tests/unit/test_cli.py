from __future__ import annotations

from pathlib import Path

import pytest

from admin_api.__main__ import main
from admin_api.auth.keys import load_configured_key
from admin_api.settings import Settings

pytestmark = pytest.mark.unit


def test_rotate_signing_key_replaces_the_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WFB_DATA_DIR", str(tmp_path))
    before = load_configured_key(Settings()).kid
    main(["rotate-signing-key"])
    after = load_configured_key(Settings()).kid
    assert before != after and after in capsys.readouterr().out
    assert len(list((tmp_path / "admin-api").glob("jwt-signing-key.pem.retired-*"))) == 1
    assert oct((tmp_path / "admin-api" / "jwt-signing-key.pem").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SystemExit, match="unknown command"):
        main(["frobnicate"])
