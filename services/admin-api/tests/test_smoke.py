from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_smoke(api):  # type: ignore[no-untyped-def]
    owner = await api.user("owner")
    t = await api.tenancy(owner)
    wf = await api.workflow(owner, t.project)
    r = await owner.post(f"/api/v1/workflows/{wf['id']}/deploy", json={})
    assert r.status_code == 200, r.text
    r = await owner.post(f"/api/v1/workflows/{wf['id']}/run", json={"triggerData": {"a": 1}})
    assert r.status_code == 201, r.text
    r = await owner.get(f"/api/v1/projects/{t.project}/executions")
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 1
    r = await owner.get(f"/api/v1/projects/{t.project}/dashboard")
    assert r.status_code == 200, r.text
    r = await owner.get(f"/api/v1/projects/{t.project}/audit")
    assert r.status_code == 200, r.text
    print(r.json())
