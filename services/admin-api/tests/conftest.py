"""Fixtures of the Admin API tests; the helpers live in ``admin_api_testkit`` (a unique
module name, so this suite can share a pytest run with other services' suites)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from admin_api_testkit import api, db_backend, orchestrator, service

__all__ = ["api", "db_backend", "orchestrator", "service"]
