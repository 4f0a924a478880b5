"""The internal webhook endpoint the BFF relays to: who may call it, signatures (bad,
stale, replayed), bearer secrets, 404/415/422/429, async and sync answers, idempotency."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from admin_api_testkit import Api
from admin_api_triggers_kit import BFF, Deployed, TriggerStack, deployed, sign

pytestmark = pytest.mark.integration
SCHEMA = {
    "type": "object",
    "properties": {"orderId": {"type": "integer"}, "rush": {"type": "boolean"}},
    "required": ["orderId"],
}


def hook(mode: str = "async", auth: str = "hmac", **extra: Any) -> dict[str, Any]:
    return {
        "triggerType": "webhook",
        "inputSchema": SCHEMA,
        "webhook": {"mode": mode, "auth": auth, **extra},
    }


async def post(api: Api, d: Deployed, body: bytes, headers: dict[str, str], query: str = "") -> Any:
    return await api.http.post(
        f"/api/v1/internal/webhooks/{d.workflow}{query}",
        content=body,
        headers={**BFF, "content-type": "application/json", **headers},
    )


class TestSignatures:
    async def test_a_good_signature_starts_a_run(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, hook())
        secret = await d.secret()
        body = json.dumps({"orderId": 7}).encode()
        r = await post(tapi, d, body, sign(secret, body), query="?rush=true&tag=a&tag=b")
        assert r.status_code == 202, r.text
        assert set(r.json()) == {"instanceId", "firingId"}
        [run] = trigger_stack.sidecar.runs_of(d.workflow)
        assert run["instanceId"] == r.json()["instanceId"]
        assert run["triggerData"] == {"orderId": 7, "rush": True, "tag": ["a", "b"]}
        assert run["labels"]["trigger"] == "webhook"
        [firing] = await d.firings()
        assert (firing["kind"], firing["status"]) == ("webhook", "started")

    @pytest.mark.parametrize(
        ("tamper", "says"),
        [
            (lambda h, s: {**h, "x-wfb-signature": "sha256=" + "0" * 64}, "does not match"),
            (lambda h, s: {"x-wfb-timestamp": h["x-wfb-timestamp"]}, "missing"),
            (lambda h, s: {**h, "x-wfb-signature": "md5=abc"}, "sha256="),
            (lambda h, s: sign("whsec_wrong", s), "does not match"),
            (lambda h, s: sign("", s, int(time.time()) - 301), "outside the allowed window"),
        ],
    )
    async def test_bad_and_stale_signatures_are_refused(
        self, tapi: Api, trigger_stack: TriggerStack, tamper: Any, says: str
    ) -> None:
        d = await deployed(tapi, hook())
        secret = await d.secret()
        body = b'{"orderId": 1}'
        headers = tamper(sign(secret, body), body)
        r = await post(tapi, d, body, headers)
        assert r.status_code == 401, r.text
        assert says in r.json()["detail"]
        assert trigger_stack.sidecar.runs_of(d.workflow) == []

    async def test_a_stale_timestamp_with_the_right_secret_is_refused(self, tapi: Api) -> None:
        d = await deployed(tapi, hook())
        secret = await d.secret()
        body = b'{"orderId": 1}'
        r = await post(tapi, d, body, sign(secret, body, int(time.time()) - 600))
        assert r.status_code == 401 and "window" in r.json()["detail"]

    async def test_a_replayed_signature_is_refused(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, hook())
        secret = await d.secret()
        body = b'{"orderId": 1}'
        headers = sign(secret, body)
        assert (await post(tapi, d, body, headers)).status_code == 202
        replay = await post(tapi, d, body, headers)
        assert replay.status_code == 401 and "already used" in replay.json()["detail"]
        assert len(trigger_stack.sidecar.runs_of(d.workflow)) == 1

    async def test_a_rotated_secret_replaces_the_old_one(self, tapi: Api) -> None:
        d = await deployed(tapi, hook())
        old = await d.secret()
        rotated = await d.owner.post(f"/api/v1/workflows/{d.workflow}/webhook/secret/rotate")
        assert rotated.status_code == 200 and rotated.json()["rotated"] is True
        new = rotated.json()["secret"]
        assert new != old and new == await d.secret()
        body = b'{"orderId": 2}'
        assert (await post(tapi, d, body, sign(old, body))).status_code == 401
        assert (await post(tapi, d, body, sign(new, body))).status_code == 202

    async def test_bearer_mode(self, tapi: Api) -> None:
        d = await deployed(tapi, hook(auth="bearer"))
        secret = await d.secret()
        body = b'{"orderId": 3}'
        ok = await post(tapi, d, body, {"x-wfb-webhook-authorization": f"Bearer {secret}"})
        assert ok.status_code == 202, ok.text
        bad = await post(tapi, d, body, {"x-wfb-webhook-authorization": "Bearer nope"})
        assert bad.status_code == 401
        none = await post(tapi, d, body, {})
        assert none.status_code == 401


class TestCallers:
    async def test_only_the_bff_through_dapr(self, tapi: Api) -> None:
        d = await deployed(tapi, hook(auth="none"))
        url = f"/api/v1/internal/webhooks/{d.workflow}"
        body = {"orderId": 1}
        assert (await tapi.http.post(url, json=body)).status_code == 401
        other = await tapi.http.post(
            url, json=body, headers={"dapr-caller-app-id": "function-runner"}
        )
        assert other.status_code == 403
        assert (await tapi.http.post(url, json=body, headers=BFF)).status_code == 202


class TestAnswers:
    async def test_not_deployed_unknown_and_other_kinds_are_the_same_404(self, tapi: Api) -> None:
        d = await deployed(tapi, hook(auth="none"))
        await d.stop()
        schedule = await deployed(tapi, {"triggerType": "schedule", "intervalSeconds": 3600})
        for workflow in (d.workflow, schedule.workflow, "00000000-0000-0000-0000-000000000000"):
            r = await tapi.http.post(
                f"/api/v1/internal/webhooks/{workflow}", json={"orderId": 1}, headers=BFF
            )
            assert r.status_code == 404
            assert r.json()["detail"] == f"no active webhook trigger for workflow {workflow!r}"

    async def test_non_json_is_415_and_schema_violations_are_422(self, tapi: Api) -> None:
        d = await deployed(tapi, hook(auth="none"))
        text = await post(tapi, d, b"orderId=1", {"content-type": "text/plain"})
        assert text.status_code == 415
        broken = await post(tapi, d, b"{not json", {})
        assert broken.status_code == 415
        wrong = await post(tapi, d, b'{"orderId": "seven"}', {}, query="?rush=maybe")
        assert wrong.status_code == 422
        pointers = {e["pointer"] for e in wrong.json()["errors"]}
        assert pointers == {"/orderId", "/rush"}
        missing = await post(tapi, d, b"", {})
        assert missing.status_code == 422
        assert "'orderId' is a required property" in missing.json()["detail"]
        listed = await post(tapi, d, b"[1]", {})
        assert listed.status_code == 422

    async def test_query_values_fill_and_coerce(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, hook(auth="none"))
        r = await post(tapi, d, b"", {}, query="?orderId=12&rush=false")
        assert r.status_code == 202, r.text
        [run] = trigger_stack.sidecar.runs_of(d.workflow)
        assert run["triggerData"] == {"orderId": 12, "rush": False}

    async def test_rate_limit_per_workflow(self, tapi: Api) -> None:
        d = await deployed(tapi, hook(auth="none", rateLimitPerMinute=2))
        codes = [(await post(tapi, d, b'{"orderId": 1}', {})).status_code for _ in range(3)]
        assert codes == [202, 202, 429]
        limited = await post(tapi, d, b'{"orderId": 1}', {})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        other = await deployed(tapi, hook(auth="none", rateLimitPerMinute=2))
        assert (await post(tapi, other, b'{"orderId": 1}', {})).status_code == 202

    async def test_sync_mode_answers_the_result(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, hook(mode="sync", auth="none"))
        trigger_stack.sidecar.finish_at_start[d.workflow] = {"message": "done"}
        r = await post(tapi, d, b'{"orderId": 5}', {})
        assert r.status_code == 200, r.text
        assert r.json()["runtimeStatus"] == "COMPLETED"
        assert r.json()["result"] == {"message": "done"}
        assert r.json()["outputs"] == {"hello": {"message": "done"}}

    async def test_sync_mode_that_takes_longer_answers_202(self, tapi: Api) -> None:
        d = await deployed(tapi, hook(mode="sync", auth="none", syncTimeoutSeconds=0.5))
        r = await post(tapi, d, b'{"orderId": 5}', {})
        assert r.status_code == 202 and "instanceId" in r.json()

    async def test_idempotency_key_replays_the_first_answer(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, hook())
        secret = await d.secret()
        body = b'{"orderId": 9}'
        first = await post(tapi, d, body, {**sign(secret, body), "idempotency-key": "k-1"})
        assert first.status_code == 202
        body2 = b'{"orderId": 10}'
        again = await post(tapi, d, body2, {**sign(secret, body2), "idempotency-key": "k-1"})
        assert again.status_code == 202
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert len(trigger_stack.sidecar.runs_of(d.workflow)) == 1
        [firing] = await d.firings()
        assert firing["occurrenceKey"] == "webhook:k-1"

    async def test_a_failed_start_frees_the_idempotency_key(
        self, tapi: Api, trigger_stack: TriggerStack
    ) -> None:
        d = await deployed(tapi, hook(auth="none"))
        trigger_stack.sidecar.fail_start_with = 503
        try:
            failed = await post(tapi, d, b'{"orderId": 1}', {"idempotency-key": "retry-me"})
        finally:
            trigger_stack.sidecar.fail_start_with = None
        assert failed.status_code == 502  # the orchestrator was unavailable
        retried = await post(tapi, d, b'{"orderId": 1}', {"idempotency-key": "retry-me"})
        assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
        statuses = sorted(f["status"] for f in await d.firings())
        assert statuses == ["failed", "started"]
