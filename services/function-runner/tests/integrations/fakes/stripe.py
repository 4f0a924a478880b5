"""Stripe: form-encoded /v1/customers, /v1/invoices, /v1/invoiceitems."""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import Call, Recorder, error, gate, read

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def stripe_error(status: int, type_: str, message: str, **extra: Any) -> JSONResponse:
    return error(status, {"error": {"type": type_, "message": message, **extra}})


def customer(cid: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "email": "jenny@example.com",
        "name": "Jenny Rosen",
        "phone": None,
        "description": None,
        "metadata": {},
        "balance": 0,
        "currency": "usd",
        "delinquent": False,
        "created": 1700000000,
        **fields,
    }


def app(recorder: Recorder) -> Starlette:
    state: dict[str, dict[str, Any]] = {}
    idempotent: dict[str, Any] = {}

    def check(call: Call) -> Response | None:
        denied = gate(
            call,
            unauthorized=lambda: stripe_error(
                401, "invalid_request_error", "Invalid API Key provided: wrong***key"
            ),
            limited=lambda: stripe_error(
                429, "invalid_request_error", "Request rate limit exceeded.", code="rate_limit"
            ),
        )
        if denied:
            return denied
        if call.raw and call.headers.get("content-type") != "application/x-www-form-urlencoded":
            return stripe_error(
                400, "invalid_request_error", "Invalid request: Stripe expects form-encoded bodies"
            )
        return None

    async def customers(request: Request) -> Response:
        call = await read(request, recorder, "stripe")
        if denied := check(call):
            return denied
        body = call.body or {}
        key = call.headers.get("idempotency-key")
        if key in idempotent:
            params, response = idempotent[key]
            if params != body:
                return stripe_error(
                    400,
                    "idempotency_error",
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                )
            return JSONResponse(response)
        if body.get("email") and not EMAIL.match(body["email"]):
            return stripe_error(
                400,
                "invalid_request_error",
                f"Invalid email address: {body['email']}",
                param="email",
                code="email_invalid",
            )
        metadata = {k[9:-1]: v for k, v in body.items() if k.startswith("metadata[")}
        created = customer(
            f"cus_{len(state) + 1:04d}",
            email=body.get("email"),
            name=body.get("name"),
            metadata=metadata,
        )
        state[created["id"]] = created
        if key:
            idempotent[key] = (body, created)
        return JSONResponse(created)

    async def one_customer(request: Request) -> Response:
        call = await read(request, recorder, "stripe")
        if denied := check(call):
            return denied
        cid = request.path_params["cid"]
        if cid == "cus_deleted":
            return JSONResponse({"id": cid, "object": "customer", "deleted": True})
        if not cid.startswith("cus_"):
            return stripe_error(
                404,
                "invalid_request_error",
                f"No such customer: '{cid}'",
                code="resource_missing",
                param="id",
            )
        return JSONResponse(state.get(cid) or customer(cid))

    invoices: dict[str, dict[str, Any]] = {}

    async def create_invoice(request: Request) -> Response:
        call = await read(request, recorder, "stripe")
        if denied := check(call):
            return denied
        body = call.body or {}
        if not body.get("customer", "").startswith("cus_"):
            return stripe_error(
                400,
                "invalid_request_error",
                f"No such customer: '{body.get('customer')}'",
                param="customer",
                code="resource_missing",
            )
        if body.get("collection_method") == "send_invoice" and "days_until_due" not in body:
            return stripe_error(
                400,
                "invalid_request_error",
                "Missing required param: days_until_due.",
                param="days_until_due",
            )
        iid = f"in_{len(invoices) + 1:04d}"
        invoices[iid] = {
            "id": iid,
            "object": "invoice",
            "customer": body["customer"],
            "status": "draft",
            "number": None,
            "currency": body.get("currency", "usd"),
            "total": 0,
            "amount_due": 0,
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "due_date": None,
            "auto_advance": body.get("auto_advance") == "true",
        }
        return JSONResponse(invoices[iid])

    async def invoice_item(request: Request) -> Response:
        call = await read(request, recorder, "stripe")
        if denied := check(call):
            return denied
        body = call.body or {}
        invoice = invoices.get(body.get("invoice", ""))
        if invoice is None or not body.get("amount", "").lstrip("-").isdigit():
            return stripe_error(
                400, "invalid_request_error", "Invalid integer: amount", param="amount"
            )
        invoice["total"] += int(body["amount"])
        invoice["amount_due"] = invoice["total"]
        return JSONResponse(
            {
                "id": "ii_1",
                "object": "invoiceitem",
                "invoice": invoice["id"],
                "amount": int(body["amount"]),
            }
        )

    async def one_invoice(request: Request) -> Response:
        call = await read(request, recorder, "stripe")
        if denied := check(call):
            return denied
        invoice = invoices.get(request.path_params["iid"])
        if invoice is None:
            return stripe_error(
                404, "invalid_request_error", "No such invoice", code="resource_missing"
            )
        return JSONResponse(invoice)

    async def finalize(request: Request) -> Response:
        call = await read(request, recorder, "stripe")
        if denied := check(call):
            return denied
        invoice = invoices[request.path_params["iid"]]
        invoice.update(
            status="open",
            number="ABC-0001",
            hosted_invoice_url="https://invoice.stripe.com/i/acct/test",
            invoice_pdf="https://pay.stripe.com/invoice/x/pdf",
        )
        return JSONResponse(invoice)

    return Starlette(
        routes=[
            Route("/v1/customers", customers, methods=["POST"]),
            Route("/v1/customers/{cid}", one_customer, methods=["GET"]),
            Route("/v1/invoices", create_invoice, methods=["POST"]),
            Route("/v1/invoices/{iid}", one_invoice, methods=["GET"]),
            Route("/v1/invoices/{iid}/finalize", finalize, methods=["POST"]),
            Route("/v1/invoiceitems", invoice_item, methods=["POST"]),
        ]
    )
