"""The trigger state API: roles, other tenants' ids, audited secret reveal/rotate, stop
deactivating every kind, firings pagination, secrets sealed at rest."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import pytest
from admin_api_testkit import Api
from admin_api_triggers_kit import BFF, FakeSidecar, TriggerStack, deployed, eventually

pytestmark = pytest.mark.integration
KINDS: dict[str, dict[str, Any]] = {
    "schedule": {"triggerType": "schedule", "cron": "*/5 * * * *", "timezone": "Europe/Paris"},
    "event": {"triggerType": "event", "topic": "state-topic"},
    "webhook": {"triggerType": "webhook", "webhook": {"auth": "none"}},
    "manual": {"triggerType": "manual"},
}


def kinds() -> dict[str, dict[str, Any]]:
    """Every kind, the event one on a topic of its own."""
    return {**KINDS, "event": {**KINDS["event"], "topic": f"state-{uuid.uuid4().hex[:8]}"}}


class TestAccess:
    async def test_other_tenants_get_404_and_roles_are_checked(self, tapi: Api) -> None:
        d = await deployed(tapi, KINDS["webhook"])
        stranger = await tapi.user("stranger")
        for path in ("triggers", "triggers/firings", "webhook"):
            assert (await stranger.get(f"/api/v1/workflows/{d.workflow}/{path}")).status_code == 404
        for path in ("webhook/secret", "webhook/secret/rotate"):
            r = await stranger.post(f"/api/v1/workflows/{d.workflow}/{path}")
            assert r.status_code == 404
        viewer = await tapi.member(d.owner, "project", d.project, "viewer")
        editor = await tapi.member(d.owner, "project", d.project, "editor")
        assert (await viewer.get(f"/api/v1/workflows/{d.workflow}/triggers")).status_code == 200
        hook = await viewer.get(f"/api/v1/workflows/{d.workflow}/webhook")
        assert hook.json() == {
            "path": f"/hooks/{d.workflow}",
            "active": True,
            "auth": "none",
            "mode": "async",
            "hasSecret": False,
        }
        for user in (viewer, editor):
            r = await user.post(f"/api/v1/workflows/{d.workflow}/webhook/secret")
            assert r.status_code == 403

    async def test_reveal_and_rotate_are_audited_without_the_secret(self, tapi: Api) -> None:
        d = await deployed(tapi, KINDS["webhook"])
        secret = await d.secret()
        assert secret.startswith("whsec_")
        await d.owner.post(f"/api/v1/workflows/{d.workflow}/webhook/secret/rotate")
        audit = await d.owner.get(f"/api/v1/projects/{d.project}/audit")
        assert audit.status_code == 200, audit.text
        events = [e for e in audit.json()["items"] if e["action"].startswith("webhook.secret")]
        assert [e["action"] for e in events] == ["webhook.secret.rotate", "webhook.secret.reveal"]
        assert secret not in audit.text


class TestState:
    async def test_the_state_of_each_kind(self, tapi: Api) -> None:
        for kind, config in kinds().items():
            d = await deployed(tapi, config)
            [row] = await d.triggers()
            assert row["kind"] == kind and row["active"] is True and row["version"] == 1
            assert row["config"]["triggerType"] == kind
            assert (row["nextFireAt"] is not None) == (kind == "schedule")
            assert (row["webhookPath"] is not None) == (kind == "webhook")

    async def test_stop_deactivates_every_kind(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        sidecar: FakeSidecar = trigger_stack.sidecar
        every = kinds()
        for kind, config in every.items():
            d = await deployed(tapi, config)
            job = f"wfb-trigger-{d.workflow}-when"
            if kind == "schedule":
                await eventually(lambda job=job: job in sidecar.jobs)
            await d.stop()
            [row] = await d.triggers()
            assert row["active"] is False and row["generation"] == 2
            if kind == "schedule":
                await eventually(lambda job=job: job not in sidecar.jobs)
            if kind == "webhook":
                r = await tapi.http.post(
                    f"/api/v1/internal/webhooks/{d.workflow}", json={}, headers=BFF
                )
                assert r.status_code == 404
        topic = ("pubsub", every["event"]["topic"])
        await eventually(lambda: topic not in trigger_stack.broker.open)

    async def test_firings_paginate_newest_first(self, tapi: Api) -> None:
        d = await deployed(tapi, KINDS["webhook"])
        ids = []
        for n in range(3):
            r = await tapi.http.post(
                f"/api/v1/internal/webhooks/{d.workflow}", json={"n": n}, headers=BFF
            )
            ids.append(r.json()["firingId"])
        first = await d.owner.get(
            f"/api/v1/workflows/{d.workflow}/triggers/firings", params={"limit": 2}
        )
        page = first.json()
        assert [f["id"] for f in page["items"]] == ids[::-1][:2]
        rest = await d.owner.get(
            f"/api/v1/workflows/{d.workflow}/triggers/firings",
            params={"limit": 2, "cursor": page["nextCursor"]},
        )
        assert [f["id"] for f in rest.json()["items"]] == ids[:1]
        assert rest.json()["nextCursor"] is None

    async def test_secrets_are_not_stored_in_plain_text(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        if trigger_stack.service.backend != "sqlite":
            pytest.skip("read the SQLite file directly")
        d = await deployed(tapi, KINDS["webhook"])
        secret = await d.secret()
        url = str(trigger_stack.service.settings.database_url).removeprefix("sqlite:///")
        with sqlite3.connect(url) as db:
            [(ciphertext,)] = db.execute(
                "SELECT ciphertext FROM webhook_secrets WHERE workflow_id = ?", (d.workflow,)
            ).fetchall()
        assert secret.encode() not in ciphertext
        assert secret.removeprefix("whsec_").encode() not in ciphertext


class TestOpenApi:
    async def test_trigger_routes_are_documented(self, tapi: Api) -> None:
        spec = (await tapi.http.get("/openapi.json")).json()
        paths = spec["paths"]
        for path in (
            "/api/v1/workflows/{workflowId}/triggers",
            "/api/v1/workflows/{workflowId}/triggers/firings",
            "/api/v1/workflows/{workflowId}/webhook",
            "/api/v1/workflows/{workflowId}/webhook/secret",
            "/api/v1/workflows/{workflowId}/webhook/secret/rotate",
            "/api/v1/internal/webhooks/{workflowId}",
            "/job/{name}",
        ):
            assert path in paths, path
        hook = paths["/api/v1/internal/webhooks/{workflowId}"]["post"]["responses"]
        assert {"200", "202", "401", "404", "413", "415", "422", "429"} <= set(hook)
