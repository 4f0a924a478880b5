"""Pure parts: the permission table and its README rendering, canonical hashing and
diffs, cursors, signing-key thumbprints, the orchestrator client's error mapping."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from admin_api.auth.keys import generate_private_key, material, public_jwk
from admin_api.orchestrator_client import OrchestratorClient
from admin_api.pagination import PageParams, decode_cursor, encode_cursor, keyset
from admin_api.permissions import MIN_ROLE, USER_ONLY, Action, Role, allows, render_markdown
from admin_api.workflows.diff import canonical_json, definition_sha256, diff_definitions
from service_kit.problems import (
    BadGateway,
    BadRequest,
    Forbidden,
    GatewayTimeout,
    ServiceUnavailable,
    Unprocessable,
)

pytestmark = pytest.mark.unit
README = Path(__file__).parents[2] / "README.md"


class TestPermissions:
    def test_every_action_has_a_least_role(self) -> None:
        assert set(MIN_ROLE) == set(Action)

    @pytest.mark.parametrize(
        ("role", "allowed"),
        [
            (Role.VIEWER, {"tenant.read", "members.read", "workflow.read", "executions.read"}),
            (
                Role.EDITOR,
                {
                    "tenant.read",
                    "members.read",
                    "workflow.read",
                    "executions.read",
                    "workflow.write",
                    "workflow.run",
                },
            ),
        ],
    )
    def test_viewers_read_editors_edit_and_run(self, role: Role, allowed: set[str]) -> None:
        assert {a.value for a in Action if allows(role, a)} == allowed

    def test_admins_deploy_and_manage_owners_delete_and_transfer(self) -> None:
        assert allows(Role.ADMIN, Action.WORKFLOW_DEPLOY) and allows(
            Role.ADMIN, Action.MEMBERS_MANAGE
        )
        assert not allows(Role.ADMIN, Action.TENANT_DELETE) and not allows(
            Role.ADMIN, Action.OWNERSHIP_TRANSFER
        )
        assert all(allows(Role.OWNER, a) for a in Action)
        assert not any(allows(Role.OWNER, a, api_key=True) for a in USER_ONLY)

    def test_readme_shows_exactly_this_matrix(self) -> None:
        assert render_markdown() in README.read_text(encoding="utf-8")


class TestCanonicalForm:
    def test_key_order_and_whitespace_do_not_change_the_hash(self) -> None:
        a = {"b": 1, "a": {"y": [1, 2], "x": "é"}}
        b = json.loads('{"a": {"x": "é", "y": [1, 2]},   "b": 1}')
        assert canonical_json(a) == '{"a":{"x":"é","y":[1,2]},"b":1}'
        assert definition_sha256(a) == definition_sha256(b)
        assert definition_sha256(a) != definition_sha256({**a, "b": 2})

    def test_diff_of_edges_without_ids_uses_their_ends(self) -> None:
        old = {"nodes": [], "edges": [{"source": "a", "target": "b"}]}
        new = {
            "nodes": [],
            "edges": [{"source": "a", "target": "b", "sourceHandle": "true"}],
            "name": "x",
        }
        diff = diff_definitions(old, new)
        assert [e["source"] for e in diff["edges"]["added"]] == ["a"]
        assert len(diff["edges"]["removed"]) == 1
        assert diff["workflow"] == [{"field": "name", "change": "added", "from": None, "to": "x"}]


class TestCursors:
    def test_round_trip_and_rejection(self) -> None:
        assert decode_cursor(encode_cursor(["2026-01-01T00:00:00+00:00", "id"]), 2) == [
            "2026-01-01T00:00:00+00:00",
            "id",
        ]
        for bad in ("", "!!!", encode_cursor([1]), encode_cursor(["a", "b", "c"])):
            with pytest.raises(BadRequest):
                decode_cursor(bad, 2)

    def test_values_of_the_wrong_type_or_range_are_refused(self) -> None:
        from sqlalchemy import select

        from admin_api.audit.models import AuditEvent
        from admin_api.workflows.models import WorkflowVersion

        for cursor, column in (
            (encode_cursor([2**40]), WorkflowVersion.number),
            (encode_cursor(["x"]), WorkflowVersion.number),
            (encode_cursor([-1]), AuditEvent.id),
        ):
            with pytest.raises(BadRequest):
                keyset(select(column), [column], PageParams(limit=5, cursor=cursor))
        keyset(
            select(AuditEvent.id),
            [AuditEvent.id],
            PageParams(limit=5, cursor=encode_cursor([2**40])),
        )


class TestKeys:
    @pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
    def test_kid_is_a_stable_thumbprint(self, algorithm: str) -> None:
        key = generate_private_key(algorithm)
        assert public_jwk(key, algorithm)["kid"] == material(key, algorithm).kid
        assert (
            material(generate_private_key(algorithm), algorithm).kid != material(key, algorithm).kid
        )
        assert "d" not in public_jwk(key, algorithm)

    def test_rfc7638_example(self) -> None:
        # RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        key = Ed25519PrivateKey.from_private_bytes(seed)
        assert public_jwk(key, "EdDSA")["kid"] == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


class TestOrchestratorClient:
    @pytest.mark.parametrize(
        ("status", "error"),
        [
            (400, Unprocessable),
            (422, Unprocessable),
            (403, Forbidden),
            (429, ServiceUnavailable),
            (500, BadGateway),
            (503, BadGateway),
        ],
    )
    async def test_upstream_statuses_map_to_clear_problems(
        self, status: int, error: type[Exception]
    ) -> None:
        transport = httpx.MockTransport(lambda r: httpx.Response(status, json={"detail": "nope"}))
        async with httpx.AsyncClient(transport=transport) as http:
            client = OrchestratorClient(http, "http://sidecar:3500")
            with pytest.raises(error):
                await client.list_runs({"projectId": "p"}, None)

    async def test_unreachable_timeout_and_garbage(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

        def slow(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("slow", request=request)

        for handler, error in (
            (refuse, ServiceUnavailable),
            (slow, GatewayTimeout),
            (lambda r: httpx.Response(201, text="not json"), BadGateway),
            (lambda r: httpx.Response(201, json={"no": "id"}), BadGateway),
        ):
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
                with pytest.raises(error):
                    await OrchestratorClient(http, "http://sidecar:3500").start({}, {}, {}, None)

    async def test_invocation_url_headers_and_query(self) -> None:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, json={"items": [], "nextCursor": None})

        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
            client = OrchestratorClient(http, "http://127.0.0.1:3502", dapr_api_token="tok")
            await client.list_runs(
                {"projectId": "p", "workflowId": "w"}, "Bearer abc", status="FAILED", cursor="c"
            )
        request = seen[0]
        assert request.url.path == "/v1.0/invoke/workflow-orchestrator/method/api/v2/workflows"
        assert request.url.params.get_list("label") == ["projectId:p", "workflowId:w"]
        assert request.url.params["status"] == "FAILED" and request.url.params["cursor"] == "c"
        assert (
            request.headers["authorization"] == "Bearer abc"
            and request.headers["dapr-api-token"] == "tok"
        )
