"""Fixtures of the Admin API tests; the helpers live in ``admin_api_testkit`` and
``admin_api_triggers_kit`` (unique module names, so this suite can share a pytest run
with other services' suites)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from admin_api_testkit import api, db_backend, orchestrator, service
from admin_api_triggers_kit import sidecar, tapi, trigger_stack

__all__ = ["api", "db_backend", "orchestrator", "service", "sidecar", "tapi", "trigger_stack"]
