"""Property-based API fuzzing: schemathesis generates requests from the OpenAPI document
(valid and invalid bodies, parameters, ids) against the running service, signed in as
an owner, half of the time with real ids of the owner's tenant. No answer may be a 5xx.

The number of examples per operation is bounded (``WFB_FUZZ_EXAMPLES``, default 6) so
``make test`` stays quick; raise it for a longer hunt."""

from __future__ import annotations

import os
import zlib
from typing import Any

import httpx
import pytest
import schemathesis
from admin_api_testkit import PASSWORD, Service, simple_definition
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.integration
EXAMPLES = int(os.environ.get("WFB_FUZZ_EXAMPLES", "6"))
_ids: dict[str, dict[str, str]] = {}


def real_ids(service: Service) -> dict[str, str]:
    """An owner with a company/organization/project, a workflow, a key and an invitation."""
    if service.url in _ids:
        return _ids[service.url]
    with httpx.Client(base_url=service.url, timeout=30) as http:
        email = "fuzz-owner@example.com"
        http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        token = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "accessToken"
        ]
        auth = {"authorization": f"Bearer {token}"}
        company = http.post("/api/v1/companies", headers=auth, json={"name": "Fuzz"}).json()["id"]
        org = http.post(
            f"/api/v1/companies/{company}/organizations", headers=auth, json={"name": "o"}
        ).json()["id"]
        project = http.post(
            f"/api/v1/organizations/{org}/projects", headers=auth, json={"name": "p"}
        ).json()["id"]
        wf = http.post(
            f"/api/v1/projects/{project}/workflows",
            headers=auth,
            json={"name": "w", "definition": simple_definition()},
        ).json()["id"]
        key = http.post(
            f"/api/v1/projects/{project}/api-keys", headers=auth, json={"name": "k"}
        ).json()["id"]
        inv = http.post(
            f"/api/v1/projects/{project}/invitations", headers=auth, json={"email": "i@example.com"}
        ).json()["id"]
        me = http.get("/api/v1/auth/me", headers=auth).json()["user"]["id"]
    _ids[service.url] = {
        "token": token,
        "companyId": company,
        "organizationId": org,
        "projectId": project,
        "workflowId": wf,
        "keyId": key,
        "invitationId": inv,
        "userId": me,
        "number": "1",
    }
    return _ids[service.url]


def test_no_server_errors(service: Service) -> None:
    ids = real_ids(service)
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    headers = {"authorization": f"Bearer {ids['token']}", "dapr-caller-app-id": "builder-bff"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def probe(case: Any) -> None:
            params = case.path_parameters or {}
            digest = zlib.crc32(repr(sorted(params.items())).encode())
            if case.method != "DELETE" and digest % 2 == 0:
                for name in params:
                    if name in ids:
                        params[name] = ids[name]
            response = case.call(headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

        probe()
    assert operations >= 50
    assert failures == []
