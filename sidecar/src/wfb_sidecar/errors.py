"""Errors of the Dapr API, with the HTTP status, error code and gRPC code daprd uses.

HTTP clients get ``{"errorCode": ..., "message": ...}``; gRPC clients get the status code
and the message, as daprd answers them.
"""

from __future__ import annotations

from typing import Any

import grpc


class DaprError(Exception):
    def __init__(
        self,
        error_code: str,
        message: str,
        *,
        http_status: int = 500,
        grpc_code: grpc.StatusCode = grpc.StatusCode.INTERNAL,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.http_status = http_status
        self.grpc_code = grpc_code
        self.reason = reason

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"errorCode": self.error_code, "message": self.message}
        if self.reason:  # daprd's newer errors also carry a google.rpc.ErrorInfo
            body["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "domain": "dapr.io",
                    "reason": self.reason,
                    "metadata": {},
                }
            ]
        return body


def bad_request(message: str, code: str = "ERR_MALFORMED_REQUEST") -> DaprError:
    return DaprError(code, message, http_status=400, grpc_code=grpc.StatusCode.INVALID_ARGUMENT)


def direct_invoke(app_id: str, reason: str) -> DaprError:
    return DaprError("ERR_DIRECT_INVOKE", f"failed to invoke, id: {app_id}, err: {reason}")


def unknown_app(app_id: str, known: list[str]) -> DaprError:
    return DaprError(
        "ERR_DIRECT_INVOKE",
        f"failed to invoke, id: {app_id}, err: no app with id {app_id!r} in the run file "
        f"(known app ids: {', '.join(sorted(known)) or 'none'})",
        http_status=404,
        grpc_code=grpc.StatusCode.NOT_FOUND,
    )


def pubsub_not_found(name: str) -> DaprError:
    return DaprError(
        "ERR_PUBSUB_NOT_FOUND",
        f"pubsub {name} not found",
        http_status=404,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def pubsub_forbidden(topic: str, app_id: str) -> DaprError:
    return DaprError(
        "ERR_PUBSUB_FORBIDDEN",
        f"topic {topic} is not allowed for app id {app_id}",
        http_status=403,
        grpc_code=grpc.StatusCode.PERMISSION_DENIED,
    )


def secret_store_not_found(name: str) -> DaprError:
    return DaprError(
        "ERR_SECRET_STORE_NOT_FOUND",
        f"failed finding secret store with key {name}",
        http_status=401,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def secret_denied(key: str, store: str) -> DaprError:
    return DaprError(
        "ERR_PERMISSION_DENIED",
        f"access denied by policy to get {key!r} from {store!r}",
        http_status=403,
        grpc_code=grpc.StatusCode.PERMISSION_DENIED,
    )


def secret_get(key: str, store: str, reason: str) -> DaprError:
    return DaprError(
        "ERR_SECRET_GET",
        f"failed getting secret with key {key} from secret store {store}: {reason}",
    )


def state_store_not_found(name: str) -> DaprError:
    return DaprError(
        "ERR_STATE_STORE_NOT_FOUND",
        f"state store {name} is not found",
        http_status=400,
        grpc_code=grpc.StatusCode.INVALID_ARGUMENT,
    )


def body_too_large(size: int, limit: int) -> DaprError:
    return DaprError(
        "ERR_BODY_TOO_LARGE",
        f"request body of {size} bytes exceeds the limit of {limit} bytes (--max-body-size)",
        http_status=413,
        grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
