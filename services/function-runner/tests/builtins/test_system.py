"""Every ``system/*`` builtin, run through ``/execute`` (SQLite registry)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from function_runner.execute.validation import field_errors

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


async def run(api: Any, body: Any, slug: str, input: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = await api.client.post("/execute", json=body(slug, input, **kw))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


class TestDataBuiltins:
    async def test_set(self, sqlite_api: Any, body: Any) -> None:
        out = await run(sqlite_api, body, "system/set", {"values": {"a": [1], "b": None}})
        assert out["data"] == {"a": [1], "b": None}

    async def test_transform_seed_004_example(self, sqlite_api: Any, body: Any) -> None:
        users = [
            {"id": 1, "name": "Zoe", "active": True},
            {"id": 2, "name": "Al", "active": False},
            {"id": 3, "name": "Bea", "active": True},
        ]
        pipeline = [
            {"operation": "filter", "field": "active", "operator": "eq", "value": True},
            {"operation": "map", "mappings": {"userId": "id", "fullName": "name"}},
            {"operation": "sort", "field": "fullName", "order": "asc"},
            {"operation": "limit", "count": 10},
        ]
        out = await run(
            sqlite_api, body, "system/transform", {"source": users, "pipeline": pipeline}
        )
        assert out["data"] == {
            "result": [{"userId": 3, "fullName": "Bea"}, {"userId": 1, "fullName": "Zoe"}],
            "count": 2,
        }

    async def test_transform_random_is_stable_per_step_and_seedable(
        self, sqlite_api: Any, body: Any
    ) -> None:
        input = {"source": list(range(20)), "pipeline": [{"operation": "shuffle"}]}
        a = await run(sqlite_api, body, "system/transform", input)
        b = await run(sqlite_api, body, "system/transform", input)
        c = await run(sqlite_api, body, "system/transform", input, node_id="node-2")
        assert a["data"] == b["data"] != c["data"]
        assert sorted(a["data"]["result"]) == list(range(20))

    async def test_transform_errors_are_validation_failures(
        self, sqlite_api: Any, body: Any
    ) -> None:
        out = await run(
            sqlite_api,
            body,
            "system/transform",
            {"source": 5, "pipeline": [{"operation": "limit", "count": 1}]},
        )
        assert out["error_code"] == "validation" and "needs a list" in out["error"]

    async def test_jq(self, sqlite_api: Any, body: Any) -> None:
        data = {"users": [{"id": 1, "active": True}, {"id": 2, "active": False}]}
        expr = "[.users[] | select(.active) | {id}]"
        out = await run(sqlite_api, body, "system/jq", {"expression": expr, "data": data})
        assert out["data"] == {"result": [{"id": 1}]}
        many = await run(sqlite_api, body, "system/jq", {"expression": ".users[].id", "data": data})
        assert many["data"] == {"result": [1, 2]}
        obj = await run(sqlite_api, body, "system/jq", {"expression": ".users[0]", "data": data})
        assert obj["data"]["id"] == 1 and obj["data"]["result"] == {"id": 1, "active": True}
        bad = await run(sqlite_api, body, "system/jq", {"expression": ".users[", "data": data})
        assert bad["error_code"] == "validation" and "compile" in bad["error"]
        runtime_error = await run(
            sqlite_api, body, "system/jq", {"expression": ".a + 1", "data": {"a": "x"}}
        )
        assert runtime_error["error_code"] == "validation"

    async def test_validate(self, sqlite_api: Any, body: Any) -> None:
        schema = {
            "type": "object",
            "properties": {"items": {"type": "array", "minItems": 1}},
            "required": ["items"],
        }
        ok = await run(
            sqlite_api, body, "system/validate", {"data": {"items": [1]}, "schema": schema}
        )
        assert ok["data"] == {"valid": True, "errors": []}
        bad = await run(
            sqlite_api, body, "system/validate", {"data": {"items": []}, "schema": schema}
        )
        assert bad["success"] is True and bad["data"]["valid"] is False
        assert bad["data"]["errors"][0]["pointer"] == "/items"
        strict = await run(
            sqlite_api,
            body,
            "system/validate",
            {"data": {}, "schema": schema, "failOnInvalid": True},
        )
        assert strict["success"] is False and strict["error_code"] == "validation"
        broken = await run(sqlite_api, body, "system/validate", {"data": {}, "schema": {"type": 5}})
        assert broken["success"] is False and "not valid JSON Schema" in broken["error"]

    async def test_template(self, sqlite_api: Any, body: Any) -> None:
        out = await run(
            sqlite_api,
            body,
            "system/template",
            {
                "template": "Hi {{name}}, order {{Fetch.data.items[0].id}} ({{data.name}})",
                "data": {"name": "Ann"},
            },
            node_outputs={"Fetch": {"data": {"items": [{"id": 42}]}}},
        )
        assert out["data"] == {"text": "Hi Ann, order 42 (Ann)"}
        missing = await run(sqlite_api, body, "system/template", {"template": "{{Nope.x}}"})
        assert missing["error_code"] == "validation" and "Nope" in missing["error"]


class TestUtilityBuiltins:
    async def test_log_carries_context(
        self, sqlite_api: Any, body: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        out = await run(
            sqlite_api,
            body,
            "system/log",
            {"level": "warning", "message": "hello", "data": {"x": 1}},
        )
        assert out["data"] == {"level": "warning", "message": "hello", "data": {"x": 1}}
        record = next(r for r in caplog.records if r.getMessage() == "hello")
        assert record.levelno == logging.WARNING and record.data == {"x": 1}

    async def test_uuid_versions(self, sqlite_api: Any, body: Any) -> None:
        v4 = await run(sqlite_api, body, "system/uuid", {})
        v7 = await run(sqlite_api, body, "system/uuid", {"version": 7, "count": 3})
        assert uuid.UUID(v4["data"]["uuid"]).version == 4
        assert [uuid.UUID(u).version for u in v7["data"]["uuids"]] == [7, 7, 7]
        assert v7["data"]["uuids"] == sorted(v7["data"]["uuids"])

    async def test_datetime(self, sqlite_api: Any, body: Any) -> None:
        dt = "system/datetime"
        added = await run(
            sqlite_api,
            body,
            dt,
            {
                "operation": "add",
                "value": "2024-01-31T23:30:00Z",
                "amount": {"months": 1, "hours": 1},
                "timezone": "America/New_York",
            },
        )
        assert added["data"]["utc"] == "2024-03-01T00:30:00Z"
        assert added["data"]["result"] == "2024-02-29T19:30:00-05:00"
        fmt = await run(
            sqlite_api,
            body,
            dt,
            {
                "operation": "format",
                "value": 0,
                "format": "%Y-%m-%d %H:%M",
                "timezone": "Asia/Tokyo",
            },
        )
        assert fmt["data"]["result"] == "1970-01-01 09:00"
        diff = await run(
            sqlite_api,
            body,
            dt,
            {
                "operation": "diff",
                "value": "2024-01-01T00:00:00Z",
                "end": "2024-01-02T12:00:00Z",
                "unit": "hours",
            },
        )
        assert diff["data"]["result"] == 36
        parsed = await run(
            sqlite_api,
            body,
            dt,
            {
                "operation": "parse",
                "value": "31/12/2024 08:00",
                "inputFormat": "%d/%m/%Y %H:%M",
                "timezone": "Europe/Paris",
            },
        )
        assert parsed["data"]["utc"] == "2024-12-31T07:00:00Z"
        now = await run(sqlite_api, body, dt, {})
        assert now["data"]["timezone"] == "UTC"
        bad_zone = await run(sqlite_api, body, dt, {"timezone": "Mars/Olympus"})
        assert bad_zone["error_code"] == "validation"
        bad_value = await run(sqlite_api, body, dt, {"operation": "parse", "value": "yesterday"})
        assert bad_value["error_code"] == "validation"

    async def test_hash(self, sqlite_api: Any, body: Any) -> None:
        sha = await run(sqlite_api, body, "system/hash", {"algorithm": "sha256", "data": "abc"})
        assert sha["data"]["hash"] == hashlib.sha256(b"abc").hexdigest()
        md5 = await run(
            sqlite_api,
            body,
            "system/hash",
            {"algorithm": "md5", "data": {"b": 1, "a": 2}, "encoding": "base64"},
        )
        assert (
            md5["data"]["hash"] == base64.b64encode(hashlib.md5(b'{"a":2,"b":1}').digest()).decode()
        )
        mac = await run(
            sqlite_api,
            body,
            "system/hash",
            {"algorithm": "hmac", "data": "msg", "key": "k", "hmacAlgorithm": "sha512"},
        )
        assert mac["data"]["hash"] == hmac.new(b"k", b"msg", "sha512").hexdigest()
        nokey = await run(sqlite_api, body, "system/hash", {"algorithm": "hmac", "data": "msg"})
        assert nokey["error_code"] == "validation"

    async def test_base64(self, sqlite_api: Any, body: Any) -> None:
        enc = await run(sqlite_api, body, "system/base64", {"data": "hi?>", "urlSafe": True})
        assert enc["data"]["result"] == base64.urlsafe_b64encode(b"hi?>").decode()
        dec = await run(
            sqlite_api,
            body,
            "system/base64",
            {"operation": "decode", "data": enc["data"]["result"], "urlSafe": True},
        )
        assert dec["data"]["result"] == "hi?>"
        obj = await run(sqlite_api, body, "system/base64", {"data": {"k": 1}})
        assert base64.b64decode(obj["data"]["result"]) == b'{"k":1}'
        bad = await run(sqlite_api, body, "system/base64", {"operation": "decode", "data": "!!!"})
        assert bad["error_code"] == "validation"
        binary = await run(
            sqlite_api,
            body,
            "system/base64",
            {"operation": "decode", "data": base64.b64encode(b"\xff\xfe").decode()},
        )
        assert binary["error_code"] == "validation"


class TestHttpRequest:
    async def test_request_shapes_and_parsing(
        self, app_factory: Any, sqlite_url: str, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        def handler(request: Any) -> Any:
            if request.path.startswith("/text"):
                return reply_cls(raw=b"plain", headers={"content-type": "text/plain"})
            if request.path.startswith("/missing"):
                return reply_cls(status=404, body={"error": "nope"})
            return reply_cls(
                body={"path": request.path, "auth": request.headers.get("authorization")}
            )

        with server_cls(handler) as server:
            async with app_factory(sqlite_url, ssrf_allow_cidrs=["127.0.0.1/32"]) as api:
                out = await run(
                    api,
                    body,
                    "system/http-request",
                    {
                        "method": "POST",
                        "url": f"{server.url}/data",
                        "headers": '{"Authorization": "Bearer t1"}',
                        "query": {"q": "a b"},
                        "body": {"k": [1, 2]},
                    },
                )
                assert out["data"]["status"] == 200
                assert out["data"]["body"] == {"path": "/data?q=a+b", "auth": "Bearer t1"}
                assert server.requests[-1].json() == {"k": [1, 2]}
                text = await run(api, body, "system/http-request", {"url": f"{server.url}/text"})
                assert text["data"]["body"] == "plain"
                not_json = await run(
                    api,
                    body,
                    "system/http-request",
                    {"url": f"{server.url}/text", "responseType": "json"},
                )
                assert not_json["error_code"] == "validation"
                missing = await run(
                    api, body, "system/http-request", {"url": f"{server.url}/missing"}
                )
                assert missing["success"] is False and missing["error_code"] == "not_found"
                tolerated = await run(
                    api,
                    body,
                    "system/http-request",
                    {"url": f"{server.url}/missing", "failOnHttpError": False},
                )
                assert tolerated["data"]["status"] == 404
                bad_headers = await run(
                    api, body, "system/http-request", {"url": server.url, "headers": "{nope"}
                )
                assert bad_headers["error_code"] == "validation"

    async def test_internal_url_refused_by_default(
        self, sqlite_api: Any, body: Any, loopback: Any
    ) -> None:
        out = await run(
            sqlite_api, body, "system/http-request", {"url": f"http://127.0.0.1:{loopback.port}/"}
        )
        assert out["error_code"] == "forbidden"
        assert loopback.requests == []


class TestDatabaseBuiltins:
    async def test_parameterized_query_and_exec(
        self, app_factory: Any, sqlite_url: str, database_url: str, body: Any
    ) -> None:
        async with app_factory(
            sqlite_url, db_connections={"main": database_url}, db_max_rows=2
        ) as api:
            create = await run(
                api,
                body,
                "system/db-exec",
                {
                    "connection": "main",
                    "sql": "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score NUMERIC)",
                },
            )
            assert create["success"] is True, create
            for n, name in enumerate(["ann", "bob'); DROP TABLE people; --", "cy"], start=1):
                ins = await run(
                    api,
                    body,
                    "system/db-exec",
                    {
                        "connection": "main",
                        "sql": "INSERT INTO people (id, name, score) VALUES (:id, :name, :score)",
                        "params": {"id": n, "name": name, "score": 1.5 * n},
                    },
                )
                assert ins["data"] == {"rowsAffected": 1}
            upd = await run(
                api,
                body,
                "system/db-exec",
                {
                    "connection": "main",
                    "sql": "UPDATE people SET score = score + 1 WHERE id >= :min",
                    "params": {"min": 2},
                },
            )
            assert upd["data"] == {"rowsAffected": 2}
            q = await run(
                api,
                body,
                "system/db-query",
                {"connection": "main", "sql": "SELECT id, name, score FROM people ORDER BY id"},
            )
            assert q["data"]["rowCount"] == 2 and q["data"]["truncated"] is True
            assert q["data"]["rows"][1] == {
                "id": 2,
                "name": "bob'); DROP TABLE people; --",
                "score": 4,
            }
            one = await run(
                api,
                body,
                "system/db-query",
                {
                    "connection": "main",
                    "sql": "SELECT name FROM people WHERE id = :id",
                    "params": {"id": 3},
                    "maxRows": 5,
                },
            )
            assert one["data"]["rows"] == [{"name": "cy"}]
            write = await run(
                api, body, "system/db-query", {"connection": "main", "sql": "DELETE FROM people"}
            )
            assert write["success"] is False and write["error_code"] == "validation"
            count = await run(
                api,
                body,
                "system/db-query",
                {"connection": "main", "sql": "SELECT COUNT(*) AS n FROM people"},
            )
            assert count["data"]["rows"] == [{"n": 3}]
            missing_param = await run(
                api,
                body,
                "system/db-query",
                {"connection": "main", "sql": "SELECT * FROM people WHERE id = :id"},
            )
            assert missing_param["error_code"] == "validation"
            unknown = await run(
                api, body, "system/db-query", {"connection": "other", "sql": "SELECT 1"}
            )
            assert unknown["error_code"] == "not_found"


class FakeOpenAI:
    """Answers like the chat completions API and checks requests the way it would."""

    def __init__(self, reply_cls: Any, answer: dict[str, Any]) -> None:
        self.reply_cls = reply_cls
        self.answer = answer

    def __call__(self, request: Any) -> Any:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return self.reply_cls(status=404, body={"error": {"message": "unknown route"}})
        if request.headers.get("authorization") != "Bearer sk-test-abcdef":
            return self.reply_cls(status=401, body={"error": {"message": "Incorrect API key"}})
        payload = request.json()
        if "model" not in payload or not payload.get("messages"):
            return self.reply_cls(
                status=400, body={"error": {"message": "model and messages required"}}
            )
        return self.reply_cls(
            body={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": payload["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", **self.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
            }
        )


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


CREDS = {"openai": {"apiKey": "sk-test-abcdef"}}


class TestAiBuiltins:
    async def _run(
        self,
        app_factory: Any,
        sqlite_url: str,
        server: Any,
        body: Any,
        slug: str,
        input: dict[str, Any],
        creds: Any = CREDS,
    ) -> dict[str, Any]:
        async with app_factory(
            sqlite_url, integration_base_urls={"openai": f"{server.url}/v1"}
        ) as api:
            return await run(api, body, slug, input, integrations=creds)

    async def test_complete(
        self, app_factory: Any, sqlite_url: str, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(FakeOpenAI(reply_cls, {"content": "A short summary."})) as server:
            out = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-complete",
                {
                    "model": "gpt-4o-mini",
                    "systemPrompt": "Summarize",
                    "prompt": "long text",
                    "maxTokens": 400,
                },
            )
            sent = server.requests[0].json()
        assert out["data"]["content"] == "A short summary."
        assert out["data"]["usage"] == {"inputTokens": 11, "outputTokens": 5}
        assert sent["messages"] == [
            {"role": "system", "content": "Summarize"},
            {"role": "user", "content": "long text"},
        ]
        assert sent["max_tokens"] == 400

    async def test_classify(
        self, app_factory: Any, sqlite_url: str, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        answer = tool_call(
            "classify", {"category": "billing", "confidence": 0.92, "reasoning": "invoice"}
        )
        with server_cls(FakeOpenAI(reply_cls, answer)) as server:
            out = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-classify",
                {"text": "my invoice is wrong", "categories": ["bug", "billing", "question"]},
            )
            sent = server.requests[0].json()
        assert out["data"]["category"] == "billing" and out["data"]["confidence"] == 0.92
        assert sent["tools"][0]["function"]["parameters"]["properties"]["category"]["enum"] == [
            "bug",
            "billing",
            "question",
        ]
        assert sent["tool_choice"]["function"]["name"] == "classify"

    async def test_classify_rejects_unknown_category(
        self, app_factory: Any, sqlite_url: str, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(
            FakeOpenAI(reply_cls, tool_call("classify", {"category": "spam", "confidence": 1}))
        ) as server:
            out = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-classify",
                {"text": "x", "categories": ["a", "b"]},
            )
        assert out["success"] is False and out["retryable"] is True

    async def test_extract_with_tool_calling_and_json_mode(
        self, app_factory: Any, sqlite_url: str, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        schema = {
            "type": "object",
            "properties": {"product": {"type": "string"}, "severity": {"type": "string"}},
            "required": ["product"],
        }
        with server_cls(
            FakeOpenAI(reply_cls, tool_call("extract", {"product": "api", "severity": "high"}))
        ) as server:
            out = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-extract",
                {"text": "the api is down", "schema": schema},
            )
            sent = server.requests[0].json()
        assert out["data"] == {"product": "api", "severity": "high"}
        assert sent["tools"][0]["function"]["parameters"] == schema
        with server_cls(
            FakeOpenAI(reply_cls, {"content": json.dumps({"severity": "low"})})
        ) as server:
            out = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-extract",
                {"text": "x", "schema": schema, "method": "json"},
            )
            assert server.requests[0].json()["response_format"] == {"type": "json_object"}
        assert out["success"] is False and "product" in out["error"]

    async def test_auth_errors_are_mapped_and_key_never_leaks(
        self, app_factory: Any, sqlite_url: str, server_cls: Any, reply_cls: Any, body: Any
    ) -> None:
        with server_cls(FakeOpenAI(reply_cls, {"content": "x"})) as server:
            wrong = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-complete",
                {"prompt": "hi"},
                creds={"openai": {"apiKey": "sk-wrong-key-999"}},
            )
            none = await self._run(
                app_factory,
                sqlite_url,
                server,
                body,
                "system/ai-complete",
                {"prompt": "hi"},
                creds=None,
            )
        assert wrong["error_code"] == "auth" and "sk-wrong-key-999" not in json.dumps(wrong)
        assert none["error_code"] == "auth" and len(server.requests) == 1


class TestExamples:
    def test_example_system_actions_match_their_input_schemas(self) -> None:
        from function_runner.builtins.base import load_builtins

        builtins = load_builtins()
        checked = 0
        for path in sorted(EXAMPLES.glob("*.json")):
            for node in json.loads(path.read_text())["nodes"]:
                config = node.get("config", {})
                slug = config.get("actionId", "")
                if not slug.startswith("system/"):
                    continue
                assert slug in builtins, f"{path.name}: {slug} is not a builtin"
                control = {"actionId", "retry", "timeoutSeconds", "onError", "compensate"}
                input = {k: v for k, v in config.items() if k not in control}
                errors = field_errors(builtins[slug].input_schema, input)
                assert errors == [], f"{path.name} node {node['id']}: {errors}"
                checked += 1
        assert checked >= 20
