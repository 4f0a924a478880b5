"""Transparent token refresh, once per refresh token.

admin-api rotates refresh tokens and treats a reused one as theft (the whole family is
revoked). A browser fires several requests at once, so several may find the access token
expired together: they must share one refresh call and its result rather than each
presenting the same refresh token. Results are kept for a short while so requests that
arrive with the old cookies just after the rotation get the new pair too.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from builder_bff.dapr import Invoker, UpstreamProblem
from builder_bff.session.tokens import TokenPair
from service_kit.problems import Unauthorized

REFRESH_PATH = "/api/v1/auth/refresh"
RESULT_TTL_SECONDS = 60.0


class Refresher:
    def __init__(self, invoker: Invoker, admin_app_id: str) -> None:
        self.invoker = invoker
        self.admin_app_id = admin_app_id
        self._inflight: dict[str, asyncio.Task[TokenPair]] = {}
        self._recent: dict[str, tuple[float, TokenPair]] = {}
        self.calls = 0

    async def refresh(self, refresh_token: str) -> TokenPair:
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        now = time.monotonic()
        self._recent = {k: v for k, v in self._recent.items() if now - v[0] < RESULT_TTL_SECONDS}
        if key in self._recent:
            return self._recent[key][1]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._refresh(refresh_token))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        pair = await asyncio.shield(task)
        self._recent[key] = (time.monotonic(), pair)
        return pair

    async def _refresh(self, refresh_token: str) -> TokenPair:
        self.calls += 1
        try:
            body = await self.invoker.json(
                self.admin_app_id, "POST", REFRESH_PATH, json_body={"refresh_token": refresh_token}
            )
        except UpstreamProblem as exc:
            if exc.upstream_status in (400, 401, 403, 404, 422):
                raise Unauthorized("your session has ended; log in again") from exc
            raise
        try:
            return TokenPair.from_response(body)
        except ValueError as exc:
            raise Unauthorized("your session could not be renewed; log in again") from exc
