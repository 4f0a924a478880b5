"""Reads secrets through the Dapr sidecar's secrets API (``/v1.0/secrets/<store>/<key>``):
the local file store in embedded mode, Kubernetes secrets in the cluster."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

_log = logging.getLogger(__name__)


class SecretStore:
    def __init__(
        self, http: httpx.AsyncClient, endpoint: str, store: str, api_token: str | None
    ) -> None:
        self.http = http
        self.endpoint = endpoint.rstrip("/")
        self.store = store
        self.headers = {"dapr-api-token": api_token} if api_token else {}

    async def get(self, key: str) -> dict[str, str] | None:
        """The secret's fields, or ``None`` when it does not exist or the store cannot be
        reached (the next credential source is then consulted)."""
        url = f"{self.endpoint}/v1.0/secrets/{quote(self.store, safe='')}/{quote(key, safe='')}"
        try:
            response = await self.http.get(url, headers=self.headers, timeout=5.0)
        except httpx.HTTPError as exc:
            _log.debug(
                "secret store unreachable", extra={"store": self.store, "error": type(exc).__name__}
            )
            return None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        return {str(k): str(v) for k, v in body.items() if v is not None}
