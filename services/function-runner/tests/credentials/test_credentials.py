"""Stored credentials: encryption, tenancy, rotation, write-only API, resolution order."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select, update

from function_runner.credentials.crypto import (
    DecryptionError,
    Keyring,
    associated_data,
    generate_key,
)
from function_runner.credentials.models import Credential

pytestmark = pytest.mark.integration
SECRET = "sk-stored-0123456789"
T1 = {"X-Tenant-ID": "tenant-a"}
T2 = {"X-Tenant-ID": "tenant-b"}


class TestKeyring:
    def test_round_trip_and_associated_data(self) -> None:
        ring = Keyring.from_encoded({"k1": generate_key()})
        key_id, nonce, sealed = ring.encrypt(b"secret", associated_data("t1", "c1"))
        assert ring.decrypt(key_id, nonce, sealed, associated_data("t1", "c1")) == b"secret"
        with pytest.raises(DecryptionError):
            ring.decrypt(key_id, nonce, sealed, associated_data("t2", "c1"))
        with pytest.raises(DecryptionError):
            ring.decrypt(
                key_id, nonce, sealed[:-1] + bytes([sealed[-1] ^ 1]), associated_data("t1", "c1")
            )

    def test_active_key_defaults_to_greatest_id(self) -> None:
        ring = Keyring.from_encoded({"2024-01": generate_key(), "2025-06": generate_key()})
        assert ring.active_key_id == "2025-06"

    @pytest.mark.parametrize("bad", [{"k": "not base64!"}, {"k": "c2hvcnQ="}, {}])
    def test_bad_keys_are_refused(self, bad: dict[str, str]) -> None:
        with pytest.raises(ValueError, match="key"):
            Keyring.from_encoded(bad)


class TestApi:
    async def test_values_are_write_only_and_encrypted_at_rest(self, api: Any) -> None:
        r = await api.client.post(
            "/credentials",
            json={"integration_type": "openai", "values": {"apiKey": SECRET}},
            headers=T1,
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["field_names"] == ["apiKey"] and SECRET not in r.text
        listed = await api.client.get("/credentials", headers=T1)
        got = await api.client.get(f"/credentials/{created['id']}", headers=T1)
        assert SECRET not in listed.text + got.text
        async with api.runtime.sessions() as session:
            row = (await session.execute(select(Credential))).scalar_one()
        assert SECRET.encode() not in row.ciphertext

    async def test_other_tenants_cannot_see_or_change(self, api: Any) -> None:
        created = (
            await api.client.post(
                "/credentials",
                json={"integration_type": "slack", "values": {"botToken": "xoxb-1234"}},
                headers=T1,
            )
        ).json()
        for method in ("get", "delete"):
            r = await getattr(api.client, method)(f"/credentials/{created['id']}", headers=T2)
            assert r.status_code == 404
        r = await api.client.put(
            f"/credentials/{created['id']}", json={"values": {"botToken": "x"}}, headers=T2
        )
        assert r.status_code == 404
        assert (await api.client.get("/credentials", headers=T2)).json()["items"] == []
        assert (await api.client.get("/credentials")).status_code == 422

    async def test_duplicate_name_conflicts(self, api: Any) -> None:
        payload = {"integration_type": "github", "values": {"token": "ghp_abcdef"}}
        assert (await api.client.post("/credentials", json=payload, headers=T1)).status_code == 201
        assert (await api.client.post("/credentials", json=payload, headers=T1)).status_code == 409
        assert (await api.client.post("/credentials", json=payload, headers=T2)).status_code == 201

    async def test_row_moved_to_another_tenant_does_not_decrypt(self, api: Any) -> None:
        await api.client.post(
            "/credentials",
            json={"integration_type": "openai", "values": {"apiKey": SECRET}},
            headers=T1,
        )
        async with api.runtime.sessions() as session, session.begin():
            await session.execute(update(Credential).values(tenant_id="tenant-b"))
        found = await api.runtime.credentials.resolve(
            "openai", tenant_id="tenant-b", run_integrations=None
        )
        assert found.source == "none"

    async def test_key_rotation_reencrypts_everything(
        self, app_factory: Any, database_url: str
    ) -> None:
        old = {"k1": generate_key()}
        async with app_factory(database_url, credential_keys=old) as api:
            for n in range(3):
                await api.client.post(
                    "/credentials",
                    json={"integration_type": f"i{n}", "values": {"apiKey": f"{SECRET}-{n}"}},
                    headers=T1,
                )
        both = {**old, "k2": generate_key()}
        async with app_factory(database_url, credential_keys=both) as api:
            r = await api.client.post("/credentials:reencrypt")
            assert r.json() == {"active_key_id": "k2", "reencrypted": 3}
            assert (await api.client.post("/credentials:reencrypt")).json()["reencrypted"] == 0
        async with app_factory(database_url, credential_keys={"k2": both["k2"]}) as api:
            found = await api.runtime.credentials.resolve(
                "i1", tenant_id="tenant-a", run_integrations=None
            )
            assert found.values == {"apiKey": f"{SECRET}-1"} and found.source == "database"


class TestResolutionOrder:
    async def test_secret_store_then_run_then_database(
        self,
        app_factory: Any,
        database_url: str,
        server_cls: Any,
        reply_cls: Any,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        store = {"/v1.0/secrets/secretstore/integration-openai": {"apiKey": "from-store-key"}}

        def sidecar(request: Any) -> Any:
            found = store.get(request.path)
            return (
                reply_cls(body=found)
                if found
                else reply_cls(status=500, body={"errorCode": "ERR_SECRET_GET"})
            )

        with server_cls(sidecar) as server:
            async with app_factory(
                database_url, use_secret_store=True, dapr_http_port=server.port
            ) as api:
                await api.client.post(
                    "/credentials",
                    json={"integration_type": "openai", "values": {"apiKey": "from-db-key"}},
                    headers=T1,
                )
                await api.client.post(
                    "/credentials",
                    json={"integration_type": "slack", "values": {"botToken": "from-db-token"}},
                    headers=T1,
                )
                resolve = api.runtime.credentials.resolve
                run = {"openai": {"apiKey": "from-run-key"}, "github": {"token": "from-run-token"}}
                first = await resolve("openai", tenant_id="tenant-a", run_integrations=run)
                assert (first.source, first.values) == (
                    "secret_store",
                    {"apiKey": "from-store-key"},
                )
                second = await resolve("github", tenant_id="tenant-a", run_integrations=run)
                assert (second.source, second.values) == ("run", {"token": "from-run-token"})
                third = await resolve("slack", tenant_id="tenant-a", run_integrations=run)
                assert (third.source, third.values) == ("database", {"botToken": "from-db-token"})
                other_tenant = await resolve("slack", tenant_id="tenant-b", run_integrations=None)
                assert other_tenant.source == "none"
            paths = [r.path for r in server.requests]
            assert "/v1.0/secrets/secretstore/integration-github" in paths
        for secret in ("from-store-key", "from-db-key", "from-run-token", "from-db-token"):
            assert secret not in caplog.text


class TestReencryptCommand:
    async def test_command_reencrypts_with_the_active_key(
        self, app_factory: Any, sqlite_url: str, tmp_path: Any
    ) -> None:
        from function_runner.__main__ import reencrypt_credentials
        from function_runner.settings import Settings

        old = {"k1": generate_key()}
        async with app_factory(sqlite_url, credential_keys=old) as api:
            await api.client.post(
                "/credentials",
                json={"integration_type": "x", "values": {"apiKey": SECRET}},
                headers=T1,
            )
        keys = {**old, "k2": generate_key()}
        settings = Settings(
            database_url=sqlite_url, data_dir=tmp_path, credential_keys=keys, use_secret_store=False
        )
        assert await reencrypt_credentials(settings) == 1
        assert await reencrypt_credentials(settings) == 0
