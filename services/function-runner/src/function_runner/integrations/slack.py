"""Slack: ``slack/send-message`` (Web API ``chat.postMessage``).

Credentials (integration ``slack``): ``apiKey`` (a bot token ``xoxb-...``; also
``botToken`` or ``SLACK_API_KEY``). Slack answers API errors with HTTP 200 and
``{"ok": false, "error": "..."}``; those are mapped like HTTP errors.
"""

from __future__ import annotations

from typing import Any

from function_runner.builtins.base import ErrorCode, ExecutionContext, FunctionError, builtin
from function_runner.integrations._common import Vendor, schema, text_field

SLACK = Vendor("slack", "Slack", "https://slack.com/api", ("apiKey", "botToken", "SLACK_API_KEY"))

_AUTH = {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired"}
_FORBIDDEN = {
    "missing_scope",
    "not_in_channel",
    "restricted_action",
    "ekm_access_denied",
    "is_archived",
    "no_permission",
    "team_access_not_granted",
    "access_denied",
}
_NOT_FOUND = {"channel_not_found", "thread_not_found", "user_not_found"}
_RETRYABLE = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def _slack_error(data: dict[str, Any]) -> FunctionError:
    error = str(data.get("error") or "unknown_error")
    code: ErrorCode = "validation"
    retryable = False
    if error in _AUTH:
        code = "auth"
    elif error in _FORBIDDEN:
        code = "forbidden"
    elif error in _NOT_FOUND:
        code = "not_found"
    elif error == "ratelimited":
        code, retryable = "rate_limited", True
    elif error in _RETRYABLE:
        code, retryable = "upstream", True
    detail = f" (needed: {data['needed']})" if data.get("needed") else ""
    return FunctionError(f"Slack API error: {error}{detail}", code=code, retryable=retryable)


@builtin(
    slug="slack/send-message",
    name="Send Slack Message",
    description="Post a message to a Slack channel (or a thread) as the bot.",
    category="Slack",
    integration_type="slack",
    input_schema=schema(
        {
            "channel": text_field(
                "Channel",
                "Channel name (#general) or id (C0123...)",
                minLength=1,
                examples=["#general"],
            ),
            "text": text_field(
                "Message",
                "Message text (mrkdwn). Use {{NodeName.field}} to insert earlier outputs.",
                minLength=1,
                **{"x-ui-widget": "textarea"},
            ),
            "threadTs": text_field(
                "Thread", "Timestamp of the parent message to reply in its thread."
            ),
            "blocks": {
                "type": "array",
                "title": "Blocks",
                "description": "Block Kit blocks (the text is then the notification fallback).",
                "items": {"type": "object"},
            },
            "unfurlLinks": {"type": "boolean", "title": "Unfurl links", "default": True},
        },
        ("channel", "text"),
    ),
    output_schema=schema(
        {
            "ok": {"type": "boolean"},
            "channel": {"type": "string", "description": "Channel id."},
            "ts": {"type": "string", "description": "Message timestamp (its id)."},
            "message": {"type": "object"},
        },
        ("ok", "channel", "ts"),
    ),
)
async def send_message(input: dict[str, Any], ctx: ExecutionContext) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": input["channel"],
        "text": input["text"],
        "unfurl_links": input.get("unfurlLinks", True),
    }
    if input.get("threadTs"):
        body["thread_ts"] = input["threadTs"]
    if input.get("blocks"):
        body["blocks"] = input["blocks"]
    response = await SLACK.request(
        ctx,
        "POST",
        "/chat.postMessage",
        headers={
            "Authorization": f"Bearer {SLACK.secret(ctx)}",
            "Content-Type": "application/json; charset=utf-8",
        },
        json=body,
    )
    data = SLACK.json(response)
    if not data.get("ok"):
        raise _slack_error(data)
    return {
        "ok": True,
        "channel": data.get("channel"),
        "ts": data.get("ts"),
        "message": data.get("message") or {},
    }
