from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration

OCI = {
    "slug": "custom/my-func",
    "name": "My Custom Function",
    "execution_type": "oci",
    "image_ref": "registry.example.com:8443/functions/my-func:v1",
    "command": ["python", "/app/handler.py"],
    "container_env": {"MODE": "fast"},
    "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
    "input_schema": {"type": "object", "properties": {"value": {"type": "number"}}},
}
HTTP = {
    "slug": "external/api-call",
    "name": "External API",
    "execution_type": "http",
    "webhook_url": "https://api.example.com/webhook",
    "webhook_headers": {"Authorization": "Bearer s3cr3t-token", "X-Plain": "visible"},
}


async def create(api: Any, payload: dict[str, Any]) -> Any:
    return await api.client.post("/functions", json=payload)


class TestBuiltinSeeding:
    async def test_builtins_are_listed_with_schemas_and_category(self, api: Any) -> None:
        page = (await api.client.get("/functions", params={"plugin": "system"})).json()
        by_slug = {f["slug"]: f for f in page["items"]}
        assert "system/set" in by_slug
        fn = by_slug["system/set"]
        assert fn["is_builtin"] and fn["execution_type"] == "builtin"
        assert fn["category"] == "data"
        assert fn["input_schema"]["required"] == ["values"]

    async def test_seeding_again_keeps_operator_changes(
        self, api: Any, app_factory: Any, database_url: str
    ) -> None:
        patched = await api.client.patch(
            "/functions/system/set", json={"is_enabled": False, "max_concurrency": 3}
        )
        assert patched.status_code == 200, patched.text
        async with app_factory(database_url) as second:
            fn = (await second.client.get("/functions/system/set")).json()
            assert fn["is_enabled"] is False and fn["max_concurrency"] == 3
            listed = (await second.client.get("/functions", params={"search": "set"})).json()
            assert [f["slug"] for f in listed["items"]].count("system/set") == 1

    async def test_builtin_code_fields_cannot_be_patched(self, api: Any) -> None:
        r = await api.client.patch("/functions/system/set", json={"input_schema": {}})
        assert r.status_code == 409
        assert "input_schema" in r.json()["detail"]

    async def test_builtin_cannot_be_deleted(self, api: Any) -> None:
        r = await api.client.delete("/functions/system/set")
        assert r.status_code == 409
        assert "disable" in r.json()["detail"]


class TestCreate:
    async def test_oci_function_round_trip(self, api: Any) -> None:
        r = await create(api, OCI)
        assert r.status_code == 201, r.text
        fn = r.json()
        assert fn["plugin_id"] == "custom" and fn["category"] == "custom"
        assert fn["command"] == ["python", "/app/handler.py"]
        by_id = (await api.client.get(f"/functions/{fn['id']}")).json()
        by_slug = (await api.client.get("/functions/custom/my-func")).json()
        assert by_id == by_slug == fn

    async def test_duplicate_slug_is_a_conflict(self, api: Any) -> None:
        assert (await create(api, OCI)).status_code == 201
        r = await create(api, OCI)
        assert r.status_code == 409 and "custom/my-func" in r.json()["detail"]

    async def test_http_function_hides_sensitive_headers(self, api: Any) -> None:
        r = await create(api, HTTP)
        assert r.status_code == 201, r.text
        headers = r.json()["webhook_headers"]
        assert headers == {"Authorization": "[redacted]", "X-Plain": "visible"}
        # a PATCH sending the redacted placeholder back keeps the stored value
        r = await api.client.patch(
            "/functions/external/api-call",
            json={"webhook_headers": {"Authorization": "[redacted]", "X-Plain": "changed"}},
        )
        assert r.status_code == 200
        record = await api.runtime.registry.record("external/api-call")
        assert record.webhook_headers == {
            "Authorization": "Bearer s3cr3t-token",
            "X-Plain": "changed",
        }

    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            ({"slug": "NoSlash"}, "slug"),
            ({"slug": "a/b/c"}, "slug"),
            ({"input_schema": {"type": "nonsense"}}, "input_schema is not a valid JSON Schema"),
            ({"output_schema": {"properties": 5}}, "output_schema is not a valid JSON Schema"),
            ({"image_ref": "Not A Ref"}, "OCI image reference"),
            ({"image_ref": None}, "needs image_ref"),
            ({"timeout_seconds": 0}, "timeout_seconds"),
            ({"max_concurrency": -1}, "max_concurrency"),
            ({"container_env": {"INPUT": "x"}}, "set by the runner"),
            ({"webhook_url": "https://x.example.com"}, "for http functions"),
            ({"plugin_id": "other"}, "must match"),
            ({"execution_type": "builtin"}, "execution_type"),
            ({"unknown_field": 1}, "unknown_field"),
            ({"resources": {"limits": {"gpu": "1"}}}, "unknown resource"),
            ({"command": "python 'unbalanced"}, "command"),
        ],
    )
    async def test_invalid_oci_definitions(
        self, api: Any, change: dict[str, Any], fragment: str
    ) -> None:
        payload = {**OCI, **change}
        payload = {k: v for k, v in payload.items() if v is not None}
        r = await create(api, payload)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        text = problem["detail"] + str(problem.get("errors"))
        assert fragment in text

    @pytest.mark.parametrize(
        ("url", "fragment"),
        [
            ("ftp://example.com/hook", "scheme"),
            ("http://127.0.0.1:8080/hook", "not a public address"),
            ("http://169.254.169.254/latest/meta-data", "not a public address"),
            ("http://[::ffff:10.0.0.1]/", "not a public address"),
            ("http://2130706433/", "non-canonical"),
            ("https://example.com:22/", "port 22"),
            ("not a url", "scheme"),
        ],
    )
    async def test_webhook_url_rules(self, api: Any, url: str, fragment: str) -> None:
        r = await create(api, {**HTTP, "webhook_url": url})
        assert r.status_code == 422, r.text
        assert fragment in r.json()["detail"]

    async def test_allow_listed_internal_webhook(self, app_factory: Any, sqlite_url: str) -> None:
        async with app_factory(sqlite_url, ssrf_allow_cidrs=["10.0.0.0/8"]) as api:
            r = await create(api, {**HTTP, "webhook_url": "http://10.1.2.3:9000/hook"})
            assert r.status_code == 201, r.text


class TestUpdateDelete:
    async def test_patch_validates_the_merged_function(self, api: Any) -> None:
        await create(api, OCI)
        r = await api.client.patch("/functions/custom/my-func", json={"image_ref": None})
        assert r.status_code == 422 and "image_ref" in r.json()["detail"]
        r = await api.client.patch(
            "/functions/custom/my-func", json={"timeout_seconds": 42, "is_deprecated": True}
        )
        assert r.status_code == 200
        assert r.json()["timeout_seconds"] == 42 and r.json()["is_deprecated"] is True

    async def test_switching_type_requires_the_new_fields(self, api: Any) -> None:
        await create(api, OCI)
        r = await api.client.patch("/functions/custom/my-func", json={"execution_type": "http"})
        assert r.status_code == 422
        r = await api.client.patch(
            "/functions/custom/my-func",
            json={
                "execution_type": "http",
                "webhook_url": "https://hooks.example.com/x",
                "image_ref": None,
                "command": None,
                "container_env": None,
                "resources": None,
            },
        )
        assert r.status_code == 200, r.text

    async def test_delete_then_404(self, api: Any) -> None:
        await create(api, OCI)
        assert (await api.client.delete("/functions/custom/my-func")).status_code == 204
        r = await api.client.get("/functions/custom/my-func")
        assert r.status_code == 404 and "custom/my-func" in r.json()["detail"]
        assert (await api.client.delete("/functions/custom/my-func")).status_code == 404


class TestListing:
    async def test_filters_and_cursor_pagination(self, api: Any) -> None:
        for n in range(5):
            await create(api, {**OCI, "slug": f"custom/f{n}", "name": f"F{n}", "category": "batch"})
        await create(api, HTTP)
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"plugin": "custom", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await api.client.get("/functions", params=params)).json()
            seen += [f["slug"] for f in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [f"custom/f{n}" for n in range(5)]
        http_only = (await api.client.get("/functions", params={"execution_type": "http"})).json()
        assert [f["slug"] for f in http_only["items"]] == ["external/api-call"]
        batch = (await api.client.get("/functions", params={"category": "batch"})).json()
        assert len(batch["items"]) == 5
        found = (await api.client.get("/functions", params={"search": "F3"})).json()
        assert [f["slug"] for f in found["items"]] == ["custom/f3"]
        none = (await api.client.get("/functions", params={"search": "%"})).json()
        assert none["items"] == []

    async def test_bad_cursor_and_limit(self, api: Any) -> None:
        r = await api.client.get("/functions", params={"cursor": "!!!"})
        assert r.status_code in (400, 422)
        r = await api.client.get("/functions", params={"limit": 0})
        assert r.status_code == 422

    async def test_status_counts(self, api: Any) -> None:
        await create(api, OCI)
        status = (await api.client.get("/status")).json()
        counts = status["functions"]
        assert counts["total"] == counts["builtin"] + 1
        assert counts["by_execution_type"]["oci"] == 1
        assert status["executors"]["builtin"] is True
        assert status["concurrency_backend"] == "local"
