"""Perplexity (Sonar chat completions with web search): search, ask, research.

Credentials (integration ``perplexity``): ``apiKey`` (``pplx-...``; also
``PERPLEXITY_API_KEY``), sent as ``Bearer``.
"""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ExecutionContext, builtin
from function_runner.integrations._common import Vendor, schema, string_list, text_field

PERPLEXITY = Vendor(
    "perplexity", "Perplexity", "https://api.perplexity.ai", ("apiKey", "PERPLEXITY_API_KEY")
)
MODELS = ["sonar", "sonar-pro", "sonar-reasoning", "sonar-reasoning-pro", "sonar-deep-research"]
DEPTHS = {
    "brief": "a concise, high-level overview with the key points",
    "detailed": "a thorough analysis with explanations and supporting evidence",
    "comprehensive": "an exhaustive analysis: background, current state, key players, trends, "
    "challenges and outlook",
}
CITED = {
    "citations": {"type": "array", "items": {"type": "string"}},
    "searchResults": {"type": "array", "items": {"type": "object"}},
    "model": {"type": "string"},
    "usage": {"type": "object"},
}


async def complete(
    ctx: ExecutionContext, model: str, messages: list[dict[str, str]], **options: Any
) -> dict[str, Any]:
    body = {"model": model, "messages": messages, **{k: v for k, v in options.items() if v}}
    response = await PERPLEXITY.request(
        ctx,
        "POST",
        "/chat/completions",
        headers={"Authorization": f"Bearer {PERPLEXITY.secret(ctx)}"},
        json=body,
    )
    data = PERPLEXITY.json(response)
    choice = (data.get("choices") or [{}])[0]
    return {
        "content": (choice.get("message") or {}).get("content") or "",
        "citations": [
            c if isinstance(c, str) else c.get("url") for c in data.get("citations") or []
        ],
        "searchResults": data.get("search_results") or [],
        "model": data.get("model", model),
        "usage": data.get("usage") or {},
    }


def _cited(result: dict[str, Any], key: str) -> dict[str, Any]:
    content = result.pop("content")
    return {key: content, **result}


@builtin(
    slug="perplexity/search",
    name="Search",
    description="Search the web and get a short cited answer.",
    category="Perplexity",
    integration_type="perplexity",
    input_schema=schema(
        {
            "query": text_field("Query", "What to look up.", minLength=1),
            "recency": {
                "type": "string",
                "title": "Recency",
                "enum": ["hour", "day", "week", "month", "year"],
            },
            "domains": {
                "type": ["array", "string"],
                "title": "Domains",
                "description": "Only search these domains (prefix with - to exclude).",
                "items": {"type": "string"},
            },
        },
        ("query",),
    ),
    output_schema=schema({"answer": {"type": "string"}, **CITED}, ("answer", "citations")),
)
async def search(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": "Answer briefly and factually from current web sources."},
        {"role": "user", "content": input["query"]},
    ]
    result = await complete(
        ctx,
        "sonar",
        messages,
        search_recency_filter=input.get("recency"),
        search_domain_filter=string_list(input.get("domains")) or None,
    )
    return _cited(result, "answer")


@builtin(
    slug="perplexity/ask",
    name="Ask",
    description="Ask a question answered from the web, with citations.",
    category="Perplexity",
    integration_type="perplexity",
    input_schema=schema(
        {
            "question": text_field(
                "Question", "Your question.", minLength=1, **{"x-ui-widget": "textarea"}
            ),
            "systemPrompt": text_field("System prompt", "How to answer."),
            "model": {"type": "string", "title": "Model", "enum": MODELS, "default": "sonar-pro"},
        },
        ("question",),
    ),
    output_schema=schema({"answer": {"type": "string"}, **CITED}, ("answer", "citations")),
)
async def ask(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    messages = []
    if input.get("systemPrompt"):
        messages.append({"role": "system", "content": input["systemPrompt"]})
    messages.append({"role": "user", "content": input["question"]})
    return _cited(await complete(ctx, input.get("model") or "sonar-pro", messages), "answer")


@builtin(
    slug="perplexity/research",
    name="Research",
    description="Produce a structured, cited research report on a topic.",
    category="Perplexity",
    integration_type="perplexity",
    timeout_seconds=900,
    input_schema=schema(
        {
            "topic": text_field(
                "Topic", "What to research.", minLength=1, **{"x-ui-widget": "textarea"}
            ),
            "depth": {
                "type": "string",
                "title": "Depth",
                "enum": list(DEPTHS),
                "default": "detailed",
            },
            "model": {
                "type": "string",
                "title": "Model",
                "enum": MODELS,
                "default": "sonar-deep-research",
            },
        },
        ("topic",),
    ),
    output_schema=schema({"report": {"type": "string"}, **CITED}, ("report", "citations")),
)
async def research(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    depth = DEPTHS[input.get("depth", "detailed")]
    messages = [
        {
            "role": "system",
            "content": f"You are an expert research analyst. Write {depth}. Structure the report "
            "with clear sections, include data where available and cite your sources.",
        },
        {"role": "user", "content": f"Research this topic: {input['topic']}"},
    ]
    return _cited(
        await complete(ctx, input.get("model") or "sonar-deep-research", messages), "report"
    )
