"""Stripe: customers and invoices (form-encoded REST API, ``/v1``).

Credentials (integration ``stripe``): ``secretKey`` (``sk_live_...`` / ``sk_test_...`` or a
restricted key; also ``apiKey`` or ``STRIPE_SECRET_KEY``), sent as ``Bearer``. Writes carry
an ``Idempotency-Key`` derived from the execution and node, so a retried step never
creates a second customer or invoice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from function_runner.builtins.base import ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, idempotency_key, schema, text_field

STRIPE = Vendor(
    "stripe", "Stripe", "https://api.stripe.com/v1", ("secretKey", "apiKey", "STRIPE_SECRET_KEY")
)
METADATA = {
    "type": "object",
    "title": "Metadata",
    "description": "Key -> value pairs stored on the object.",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
}
CUSTOMER = schema(
    {
        "id": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "metadata": {"type": "object"},
        "balance": {"type": "integer"},
        "currency": {"type": ["string", "null"]},
        "delinquent": {"type": ["boolean", "null"]},
        "created": {"type": "integer"},
    },
    ("id",),
)
CUSTOMER_ID = text_field("Customer", "Stripe customer id (cus_...).", minLength=1)


def form(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Stripe's form encoding: nested objects as ``a[b]``, lists as ``a[0]``."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            out.update(form(value, name))
        elif isinstance(value, list):
            out.update(form({str(i): item for i, item in enumerate(value)}, name))
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = str(value)
    return out


def _headers(ctx: ExecutionContext, idempotency: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {STRIPE.secret(ctx)}"}
    if idempotency:
        headers["Idempotency-Key"] = idempotency
    return headers


def customer(data: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "email",
        "name",
        "phone",
        "description",
        "metadata",
        "balance",
        "currency",
        "delinquent",
        "created",
    )
    return {key: data.get(key) for key in keys}


def invoice(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": data.get("id"),
        "number": data.get("number"),
        "status": data.get("status"),
        "customer": data.get("customer"),
        "currency": data.get("currency"),
        "total": data.get("total"),
        "amountDue": data.get("amount_due"),
        "hostedInvoiceUrl": data.get("hosted_invoice_url"),
        "invoicePdf": data.get("invoice_pdf"),
        "dueDate": data.get("due_date"),
    }


@builtin(
    slug="stripe/create-customer",
    name="Create Customer",
    description="Create a Stripe customer.",
    category="Stripe",
    integration_type="stripe",
    input_schema=schema(
        {
            "email": text_field("Email", "Customer email.", format="email"),
            "name": text_field("Name", "Full name or business name."),
            "phone": text_field("Phone", "Phone number."),
            "description": text_field("Description", "Internal note."),
            "metadata": METADATA,
        }
    ),
    output_schema=CUSTOMER,
)
async def create_customer(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    fields = {k: input.get(k) for k in ("email", "name", "phone", "description", "metadata")}
    response = await STRIPE.request(
        ctx,
        "POST",
        "/customers",
        headers=_headers(ctx, idempotency_key(ctx, "stripe/create-customer")),
        data=form(fields),
    )
    return customer(STRIPE.json(response))


@builtin(
    slug="stripe/get-customer",
    name="Get Customer",
    description="Read a Stripe customer.",
    category="Stripe",
    integration_type="stripe",
    input_schema=schema({"customerId": CUSTOMER_ID}, ("customerId",)),
    output_schema=CUSTOMER,
)
async def get_customer(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    path = f"/customers/{quote(input['customerId'], safe='')}"
    data = STRIPE.json(await STRIPE.request(ctx, "GET", path, headers=_headers(ctx)))
    if data.get("deleted"):
        raise FunctionError(f"Stripe customer {input['customerId']} was deleted", code="not_found")
    return customer(data)


@builtin(
    slug="stripe/create-invoice",
    name="Create Invoice",
    description="Create an invoice for a customer, add line items, and optionally finalize it.",
    category="Stripe",
    integration_type="stripe",
    input_schema=schema(
        {
            "customerId": CUSTOMER_ID,
            "description": text_field("Memo", "Shown on the invoice."),
            "currency": text_field(
                "Currency",
                "Three-letter ISO code (default: the customer's).",
                pattern="^[a-zA-Z]{3}$",
            ),
            "collectionMethod": {
                "type": "string",
                "title": "Collection",
                "enum": ["charge_automatically", "send_invoice"],
                "default": "charge_automatically",
            },
            "daysUntilDue": {
                "type": "integer",
                "title": "Days until due",
                "description": "For 'send_invoice' (default 30).",
                "minimum": 0,
            },
            "items": {
                "type": "array",
                "title": "Line items",
                "items": schema(
                    {
                        "description": {"type": "string"},
                        "amount": {
                            "type": "integer",
                            "description": "In the currency's smallest unit (cents).",
                        },
                        "currency": {"type": "string"},
                    },
                    ("amount",),
                ),
            },
            "includePendingItems": {
                "type": "boolean",
                "title": "Include pending items",
                "description": "Also bill the customer's pending invoice items.",
                "default": True,
            },
            "finalize": {"type": "boolean", "title": "Finalize", "default": False},
            "metadata": METADATA,
        },
        ("customerId",),
    ),
    output_schema=schema(
        {
            "id": {"type": "string"},
            "number": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "customer": {"type": "string"},
            "currency": {"type": "string"},
            "total": {"type": "integer"},
            "amountDue": {"type": "integer"},
            "hostedInvoiceUrl": {"type": ["string", "null"]},
            "invoicePdf": {"type": ["string", "null"]},
            "dueDate": {"type": ["integer", "null"]},
        },
        ("id", "status"),
    ),
)
async def create_invoice(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    slug = "stripe/create-invoice"
    method = input.get("collectionMethod", "charge_automatically")
    fields: dict[str, Any] = {
        "customer": input["customerId"],
        "collection_method": method,
        "description": input.get("description"),
        "currency": input.get("currency", "").lower() or None,
        "metadata": input.get("metadata"),
        "auto_advance": False,
        "pending_invoice_items_behavior": "include"
        if input.get("includePendingItems", True)
        else "exclude",
    }
    if method == "send_invoice":
        fields["days_until_due"] = input.get("daysUntilDue", 30)
    created = STRIPE.json(
        await STRIPE.request(
            ctx,
            "POST",
            "/invoices",
            headers=_headers(ctx, idempotency_key(ctx, slug)),
            data=form(fields),
        )
    )
    invoice_id = created["id"]
    for index, item in enumerate(input.get("items") or []):
        line = {
            "customer": input["customerId"],
            "invoice": invoice_id,
            "amount": item["amount"],
            "currency": (
                item.get("currency") or input.get("currency") or created.get("currency") or ""
            ).lower()
            or None,
            "description": item.get("description"),
        }
        await STRIPE.request(
            ctx,
            "POST",
            "/invoiceitems",
            headers=_headers(ctx, idempotency_key(ctx, slug, f"-item-{index}")),
            data=form(line),
        )
    path = f"/invoices/{quote(invoice_id, safe='')}"
    if input.get("finalize"):
        final = await STRIPE.request(
            ctx,
            "POST",
            f"{path}/finalize",
            headers=_headers(ctx, idempotency_key(ctx, slug, "-finalize")),
        )
        return invoice(STRIPE.json(final))
    return invoice(STRIPE.json(await STRIPE.request(ctx, "GET", path, headers=_headers(ctx))))
