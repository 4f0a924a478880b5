"""Small fake peers behind a fake Dapr sidecar, for the BFF's in-process tests.

The sidecar app routes ``/v1.0/invoke/<app-id>/method/<path>`` to a fake admin-api,
orchestrator and function-runner, each keeping just enough state to answer like the real
ones' documented contracts (tokens that expire and rotate, tenants with roles, versions,
runs with labels, an SSE stream)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": "Error", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


RANK = {"viewer": 1, "editor": 2, "admin": 3, "owner": 4}
MIN_ROLE = {
    "tenant.read": "viewer",
    "workflow.read": "viewer",
    "executions.read": "viewer",
    "workflow.write": "editor",
    "workflow.run": "editor",
    "workflow.deploy": "admin",
    "workflow.delete": "admin",
    "tenant.update": "admin",
}


def jwt(sub: str, ttl: float) -> str:
    def enc(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'none'})}.{enc({'sub': sub, 'exp': time.time() + ttl, 'n': secrets.token_hex(4)})}.sig"


@dataclass
class AdminState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # email -> user
    access: dict[str, str] = field(default_factory=dict)  # token -> user id
    refresh: dict[str, str] = field(default_factory=dict)  # live refresh -> user id
    used_refresh: set[str] = field(default_factory=set)
    roles: dict[tuple[str, str], str] = field(default_factory=dict)  # (user id, project) -> role
    # (user id, project) -> role: a project of another company ("c2"/"o2") the user was
    # invited to; admin-api lists it in /projects only (not its company)
    shared: dict[tuple[str, str], str] = field(default_factory=dict)
    workflows: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    access_ttl: float = 600
    authz_calls: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # what the relay delivered
    webhook_answer: tuple[int, dict[str, Any], dict[str, str]] | None = None
    triggers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # workflow -> rows
    webhook_secret: str = "whsec-1"
    refresh_calls: int = 0
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def fake_admin(state: AdminState) -> FastAPI:
    app = FastAPI()

    def pair(uid: str) -> dict[str, Any]:
        access, refresh = jwt(uid, state.access_ttl), secrets.token_urlsafe(16)
        state.access[access] = uid
        state.refresh[refresh] = uid
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": int(state.access_ttl),
        }

    def caller(request: Request) -> str | None:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        uid = state.access.get(token)
        if uid is None:
            return None
        exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
        return uid if exp > time.time() else None

    def user_by_id(uid: str) -> dict[str, Any]:
        return next(u for u in state.users.values() if u["id"] == uid)

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        state.requests.append((request.method, request.url.path, dict(request.headers)))
        public = (
            request.url.path.startswith("/api/v1/auth/") and not request.url.path.endswith("/me")
        ) or request.url.path.startswith("/api/v1/internal/")
        if not public and caller(request) is None:
            return problem(401, "token expired or invalid")
        return await call_next(request)  # type: ignore[no-any-return]

    @app.post("/api/v1/auth/register")
    async def register(body: dict[str, Any]) -> Response:
        if body["email"] in state.users:
            return problem(409, "email already registered")
        uid = f"u{len(state.users) + 1}"
        state.users[body["email"]] = {
            "id": uid,
            "email": body["email"],
            "name": body.get("name"),
            "password": body["password"],
        }
        return JSONResponse(
            {"user": {"id": uid, "email": body["email"]}, **pair(uid)}, status_code=201
        )

    @app.post("/api/v1/auth/login")
    async def login(body: dict[str, Any]) -> Response:
        user = state.users.get(body["email"])
        if not user or user["password"] != body["password"]:
            return problem(401, "wrong email or password")
        return JSONResponse(
            {"user": {"id": user["id"], "email": user["email"]}, **pair(user["id"])}
        )

    @app.post("/api/v1/auth/refresh")
    async def refresh(body: dict[str, Any]) -> Response:
        state.refresh_calls += 1
        token = body["refresh_token"]
        if token in state.used_refresh:
            for k, v in list(state.refresh.items()):
                if v == state.refresh.get(token, v):
                    state.refresh.pop(k, None)
            return problem(401, "refresh token reuse detected; session revoked")
        uid = state.refresh.pop(token, None)
        if uid is None:
            return problem(401, "unknown refresh token")
        state.used_refresh.add(token)
        return JSONResponse(pair(uid))

    @app.post("/api/v1/auth/logout")
    async def logout(body: dict[str, Any]) -> Response:
        state.refresh.pop(body.get("refresh_token", ""), None)
        return Response(status_code=204)

    @app.get("/api/v1/auth/me")
    async def me(request: Request) -> Response:
        uid = caller(request)
        if uid is None:
            return problem(401, "token expired or invalid")
        user = user_by_id(uid)
        memberships = [
            {"scopeType": "project", "scopeId": p, "role": r, "name": p.upper()}
            for (u, p), r in [*state.roles.items(), *state.shared.items()]
            if u == uid
        ]
        return JSONResponse(
            {"user": {"id": uid, "email": user["email"]}, "memberships": memberships}
        )

    @app.post("/api/v1/authz/check")
    async def authz(body: dict[str, Any], request: Request) -> Response:
        state.authz_calls.append(body)
        if request.headers.get("dapr-caller-app-id") != "builder-bff":
            return problem(401, "this endpoint is only for Dapr service invocation")
        uid = state.access.get(body["token"])
        resource = body["resource"]
        if resource["type"] == "project":
            pid = resource["id"]
        elif resource["type"] == "workflow" and resource["id"] in state.workflows:
            pid = state.workflows[resource["id"]]["projectId"]
        else:
            return JSONResponse({"allowed": False})
        role = state.roles.get((uid or "", pid))
        if role is None:
            return JSONResponse({"allowed": False})
        need = MIN_ROLE[body["action"]]
        return JSONResponse(
            {
                "allowed": RANK[role] >= RANK[need],
                "role": role,
                "tenant": {"companyId": "c1", "organizationId": "o1", "projectId": pid},
            }
        )

    def role(request: Request, project: str) -> str | None:
        return state.roles.get((caller(request) or "", project))

    @app.get("/api/v1/companies")
    async def companies(request: Request) -> Any:
        return {
            "items": [{"id": "c1", "name": "Acme", "slug": "acme"}]
            if any(k[0] == caller(request) for k in state.roles)
            else []
        }

    @app.get("/api/v1/companies/{cid}/organizations")
    async def orgs(cid: str) -> Any:
        return {"items": [{"id": "o1", "name": "Ops", "slug": "ops"}]}

    @app.get("/api/v1/organizations/{oid}/projects")
    async def projects(oid: str, request: Request) -> Any:
        uid = caller(request)
        return {
            "items": [
                {"id": p, "name": p.upper(), "role": r}
                for (u, p), r in state.roles.items()
                if u == uid
            ]
        }

    @app.get("/api/v1/projects")
    async def visible_projects(request: Request) -> Any:
        uid = caller(request)
        mine = [(p, "c1", "o1") for (u, p) in state.roles if u == uid]
        mine += [(p, "c2", "o2") for (u, p) in state.shared if u == uid]
        return {
            "items": [
                {"id": p, "name": p.upper(), "slug": p, "companyId": c, "organizationId": o}
                for p, c, o in mine
            ]
        }

    @app.get("/api/v1/projects/{pid}")
    async def project(pid: str, request: Request) -> Response:
        r = role(request, pid)
        if r is None:
            return problem(404, f"project {pid} not found")
        return JSONResponse(
            {"id": pid, "name": pid.upper(), "organizationId": "o1", "companyId": "c1", "role": r}
        )

    @app.get("/api/v1/projects/{pid}/workflows")
    async def workflows(pid: str, request: Request) -> Response:
        if role(request, pid) is None:
            return problem(404, f"project {pid} not found")
        return JSONResponse(
            {"items": [w for w in state.workflows.values() if w["projectId"] == pid]}
        )

    @app.get("/api/v1/workflows/{wid}")
    async def workflow(wid: str, request: Request) -> Response:
        wf = state.workflows.get(wid)
        if wf is None or role(request, wf["projectId"]) is None:
            return problem(404, f"workflow {wid} not found")
        return JSONResponse(wf)

    @app.get("/api/v1/workflows/{wid}/versions/{n}")
    async def version(wid: str, n: int, request: Request) -> Response:
        wf = state.workflows.get(wid)
        if wf is None or role(request, wf["projectId"]) is None or (wid, n) not in state.versions:
            return problem(404, "version not found")
        return JSONResponse({"version": n, "definition": state.versions[(wid, n)]})

    @app.post("/api/v1/internal/webhooks/{wid}")
    async def internal_webhook(wid: str, request: Request) -> Response:
        """admin-api's internal endpoint: Dapr caller builder-bff only; a deployed workflow
        answers 202 with a run, unless the test set ``webhook_answer``."""
        state.webhooks.append(
            {
                "workflowId": wid,
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": await request.body(),
            }
        )
        if request.headers.get("dapr-caller-app-id") != "builder-bff":
            return problem(403, "only builder-bff may deliver webhooks")
        if state.webhook_answer is not None:
            status, body, headers = state.webhook_answer
            media = "application/problem+json" if status >= 400 else "application/json"
            return JSONResponse(body, status_code=status, headers=headers, media_type=media)
        wf = state.workflows.get(wid)
        if wf is None or wf.get("status") != "deployed":
            return problem(404, f"no webhook for workflow {wid}")
        n = len(state.webhooks)
        return JSONResponse(
            {"instanceId": f"{wid}-run-{n}", "firingId": f"f{n}"},
            status_code=202,
            headers={"Location": f"/api/v2/workflows/{wid}-run-{n}/status"},
        )

    def trigger_role(request: Request, wid: str, need: str) -> Response | None:
        wf = state.workflows.get(wid)
        r = role(request, wf["projectId"]) if wf else None
        if r is None:
            return problem(404, f"workflow {wid} not found")
        if RANK[r] < RANK[need]:
            return problem(403, f"your role ({r}) does not allow this")
        return None

    @app.get("/api/v1/workflows/{wid}/triggers")
    async def triggers(wid: str, request: Request) -> Response:
        denied = trigger_role(request, wid, "viewer")
        return denied or JSONResponse({"items": state.triggers.get(wid, [])})

    @app.get("/api/v1/workflows/{wid}/triggers/firings")
    async def firings(wid: str, request: Request) -> Response:
        denied = trigger_role(request, wid, "viewer")
        return denied or JSONResponse(
            {"items": [], "nextCursor": None, "limit": request.query_params.get("limit")}
        )

    @app.get("/api/v1/workflows/{wid}/webhook")
    async def webhook_info(wid: str, request: Request) -> Response:
        denied = trigger_role(request, wid, "viewer")
        return denied or JSONResponse({"path": f"/hooks/{wid}", "auth": "hmac", "hasSecret": True})

    @app.post("/api/v1/workflows/{wid}/webhook/secret")
    async def reveal(wid: str, request: Request) -> Response:
        denied = trigger_role(request, wid, "admin")
        return denied or JSONResponse(
            {"secret": state.webhook_secret}, headers={"Cache-Control": "no-store"}
        )

    @app.post("/api/v1/workflows/{wid}/webhook/secret/rotate")
    async def rotate(wid: str, request: Request) -> Response:
        denied = trigger_role(request, wid, "admin")
        if denied:
            return denied
        state.webhook_secret = f"whsec-{secrets.token_hex(4)}"
        return JSONResponse({"secret": state.webhook_secret}, headers={"Cache-Control": "no-store"})

    @app.post("/api/v1/projects/{pid}/workflows")
    async def create_workflow(pid: str, request: Request) -> Response:
        if role(request, pid) not in ("editor", "admin", "owner"):
            return problem(404 if role(request, pid) is None else 403, "not allowed")
        body = await request.json()
        wid = f"wf{len(state.workflows) + 1}"
        state.workflows[wid] = {
            "id": wid,
            "projectId": pid,
            "name": body["name"],
            "status": "draft",
            "latestVersion": 0,
        }
        return JSONResponse(state.workflows[wid], status_code=201)

    return app


@dataclass
class OrchestratorState:
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: list[dict[str, Any]] = field(default_factory=list)
    posted: list[tuple[str, Any]] = field(default_factory=list)
    last_event_ids: list[str | None] = field(default_factory=list)
    callers: list[tuple[str | None, str | None]] = field(default_factory=list)
    fail_with: int | None = None


def fake_orchestrator(state: OrchestratorState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def maybe_fail(request: Request, call_next: Any) -> Response:
        state.callers.append(
            (request.headers.get("dapr-caller-app-id"), request.headers.get("authorization"))
        )
        if state.fail_with:
            if state.fail_with == 401:
                return problem(401, "a bearer token or API key is required")
            return Response("boom", status_code=state.fail_with)
        return await call_next(request)  # type: ignore[no-any-return]

    @app.post("/api/v2/workflows")
    async def start(body: dict[str, Any]) -> Response:
        state.started.append(body)
        iid = f"{body['definition']['id']}-{len(state.started)}"
        state.runs[iid] = {
            "instanceId": iid,
            "workflowId": body["definition"]["id"],
            "runtimeStatus": "RUNNING",
            "phase": "running",
            "progress": 0,
            "currentNodeIds": [],
            "outputs": {},
            "labels": body.get("labels", {}),
        }
        return JSONResponse(
            {"instanceId": iid, "workflowId": body["definition"]["id"], "status": "started"},
            status_code=201,
        )

    @app.get("/api/v2/workflows")
    async def list_runs(request: Request) -> Any:
        labels = request.query_params.getlist("label")
        if request.headers.get("authorization") and not any(
            lb.startswith("projectId:") for lb in labels
        ):
            return problem(400, "filter by project: add label=projectId:<id>")
        items = list(state.runs.values())
        for key, value in request.query_params.multi_items():
            if key == "label":
                k, v = value.split(":", 1)
                items = [r for r in items if r.get("labels", {}).get(k) == v]
            if key == "workflowId":
                items = [r for r in items if r["workflowId"] == value]
        return {"items": items[: int(request.query_params.get("limit", 50))], "nextCursor": None}

    @app.get("/api/v2/workflows/{iid}/status")
    async def status(iid: str) -> Response:
        if iid not in state.runs:
            return problem(404, f"instance {iid} not found")
        return JSONResponse(state.runs[iid])

    @app.get("/api/v2/workflows/{iid}/timeline")
    async def timeline(iid: str) -> Any:
        return {
            "instanceId": iid,
            "nodes": [
                {"nodeId": "a", "status": "completed", "attempts": 1, "output": {"ok": True}}
            ],
        }

    @app.get("/api/v2/workflows/{iid}/stream")
    async def stream(iid: str, request: Request) -> StreamingResponse:
        state.last_event_ids.append(request.headers.get("last-event-id"))
        start = int(request.headers.get("last-event-id") or 0)

        async def events() -> Any:
            for seq in range(start + 1, start + 4):
                data = {
                    "seq": seq,
                    "instanceId": iid,
                    "type": "node.started",
                    "nodeId": "a",
                    "at": "t",
                    "data": {},
                }
                yield f"id: {seq}\nevent: node.started\ndata: {json.dumps(data)}\n\n".encode()

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/api/v2/workflows/{iid}/{action}")
    async def act(iid: str, action: str, request: Request) -> Response:
        body = await request.json() if await request.body() else None
        state.posted.append((action, body))
        if action in ("rerun", "replay"):
            return JSONResponse(
                {
                    "instanceId": f"{iid}-{action}",
                    "workflowId": state.runs[iid]["workflowId"],
                    "status": "started",
                },
                status_code=201,
            )
        return JSONResponse({"ok": True})

    @app.post("/api/v2/workflows/{iid}/approvals/{node}")
    async def approve(iid: str, node: str, body: dict[str, Any]) -> Any:
        state.posted.append((f"approval:{node}", body))
        return {"accepted": True}

    @app.get("/api/v2/executions/diff")
    async def diff(left: str, right: str) -> Any:
        return {"left": left, "right": right, "nodes": []}

    return app


@dataclass
class RunnerState:
    functions: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    authorization: list[str | None] = field(default_factory=list)


def fake_function_runner(state: RunnerState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        state.authorization.append(request.headers.get("authorization"))
        return await call_next(request)  # type: ignore[no-any-return]

    @app.get("/functions")
    async def functions(limit: int = 100, cursor: str | None = None) -> Response:
        state.calls += 1
        if limit > 500:
            return problem(422, "limit must be at most 500")
        start = int(cursor or 0)
        page = state.functions[start : start + limit]
        more = start + limit < len(state.functions)
        return JSONResponse({"items": page, "next_cursor": str(start + limit) if more else None})

    @app.post("/functions")
    async def register(body: dict[str, Any]) -> Response:
        if not str(body.get("slug", "")).count("/"):
            return problem(422, "slug must be plugin/name")
        state.functions.append(body)
        return JSONResponse(body, status_code=201)

    @app.get("/credentials")
    async def credentials(request: Request) -> Any:
        tenant = request.headers["x-tenant-id"]
        rows = [c for c in state.credentials if c["tenant_id"] == tenant]
        return {"items": [{k: v for k, v in c.items() if k != "values"} for c in rows]}

    @app.post("/credentials")
    async def create(body: dict[str, Any], request: Request) -> Response:
        if set(body) - {"name", "integration_type", "values"}:
            return problem(422, "unknown fields")
        row = {**body, "id": f"cr{len(state.credentials) + 1}"}
        row["tenant_id"] = request.headers["x-tenant-id"]
        state.credentials.append(row)
        return JSONResponse({k: v for k, v in row.items() if k != "values"}, status_code=201)

    return app


def fake_sidecar(apps: dict[str, FastAPI]) -> FastAPI:
    sidecar = FastAPI()
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://app")
        for name, a in apps.items()
    }

    @sidecar.api_route(
        "/v1.0/invoke/{app_id}/method/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )
    async def invoke(app_id: str, path: str, request: Request) -> Response:
        if app_id not in clients:
            return Response(status_code=500, content=b'{"errorCode":"ERR_DIRECT_INVOKE"}')
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length"}
        }
        headers["dapr-caller-app-id"] = "builder-bff"  # what the caller's sidecar adds
        query = request.url.query  # passed on exactly as sent, like Dapr's invocation
        upstream = await clients[app_id].request(
            request.method,
            f"/{path}" + (f"?{query}" if query else ""),
            content=await request.body(),
            headers=headers,
        )
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in {"content-length", "transfer-encoding", "connection"}
            },
        )

    return sidecar
