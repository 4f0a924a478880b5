"""The backend uses the generated protocol modules of the pinned SDK (1.19); these tests
prove older clients work too: SDK 1.18 (``dapr-ext-workflow`` 1.18) and the standalone
``durabletask-dapr`` package, each installed into a throwaway virtualenv (outside the
workspace, built once per machine and reused) and run as a separate process."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import BackendThread

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parent / "compat" / "sdk_workflow.py"
OLD_SDK = ["dapr==1.18.3", "dapr-ext-workflow==1.18.3", "durabletask-dapr==0.17.4"]


def _uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to build the SDK 1.18 virtualenv (make install provides it)")
    return found


@pytest.fixture(scope="module")
def old_sdk_python() -> Path:
    digest = hashlib.sha256(" ".join(OLD_SDK).encode()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / f"wfb-sdk-compat-{digest}"
    python = root / "bin" / "python"
    with open(f"{root}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # other test runs on this machine may build it too
        if not (root / "ready").exists():
            shutil.rmtree(root, ignore_errors=True)
            uv = _uv()
            subprocess.run([uv, "venv", "-q", "--python", "3.11", str(root)], check=True)
            subprocess.run(
                [uv, "pip", "install", "-q", "--python", str(python), *OLD_SDK],
                check=True,
                timeout=600,
            )
            (root / "ready").write_text("\n".join(OLD_SDK))
    return python


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BackendThread]:
    b = BackendThread(tmp_path / "wf.db").start()
    yield b
    b.stop()


def run_script(python: Path | str, backend: BackendThread, flavor: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    done = subprocess.run(
        [str(python), str(SCRIPT), "--port", str(backend.port), "--flavor", flavor],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tempfile.gettempdir(),  # never pick up this repository's packages
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


class TestSdkVersions:
    def test_pinned_sdk_1_19(self, backend: BackendThread) -> None:
        out = run_script(sys.executable, backend, "dapr")
        assert "ok [dapr 1.19." in out
        assert "suspend, resume, terminate, purge" in out

    def test_sdk_1_18(self, backend: BackendThread, old_sdk_python: Path) -> None:
        out = run_script(old_sdk_python, backend, "dapr")
        assert "ok [dapr 1.18.3, dapr-ext-workflow 1.18.3]" in out
        assert "suspend, resume, terminate, purge" in out

    def test_standalone_durabletask_dapr(
        self, backend: BackendThread, old_sdk_python: Path
    ) -> None:
        out = run_script(old_sdk_python, backend, "durabletask")
        assert "ok [durabletask-dapr 0.17.4]" in out
