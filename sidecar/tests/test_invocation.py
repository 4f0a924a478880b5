"""Access control and header handling of service invocation (unit)."""

from __future__ import annotations

import pytest

from wfb_sidecar.invocation import access_allowed, forwarded_headers
from wfb_sidecar.resources import AccessControl

pytestmark = pytest.mark.unit

ACL = AccessControl.model_validate(
    {
        "defaultAction": "deny",
        "policies": [
            {
                "appId": "web",
                "defaultAction": "allow",
                "operations": [
                    {"name": "/admin/**", "httpVerb": ["*"], "action": "deny"},
                    {"name": "/orders/*", "httpVerb": ["POST"], "action": "deny"},
                ],
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("caller", "verb", "path", "allowed"),
    [
        ("web", "GET", "/orders/1", True),
        ("web", "POST", "/orders/1", False),
        ("web", "POST", "/orders/1/items", True),
        ("web", "GET", "/admin", False),
        ("web", "GET", "admin/users/2", False),
        ("web", "GET", "/anything", True),
        ("stranger", "GET", "/orders/1", False),
    ],
)
def test_access_control(caller: str, verb: str, path: str, allowed: bool) -> None:
    assert access_allowed(ACL, caller, verb, path) is allowed


def test_no_policy_allows_everything() -> None:
    assert access_allowed(None, "x", "DELETE", "/x")


def test_hop_by_hop_and_dapr_headers_are_replaced() -> None:
    headers = forwarded_headers(
        [
            ("Host", "sidecar"),
            ("Connection", "keep-alive"),
            ("dapr-api-token", "t"),
            ("dapr-caller-app-id", "spoofed"),
            ("X-Keep", "1"),
            ("X-Keep", "2"),
        ],
        "caller",
        "target",
    )
    assert headers == [
        ("X-Keep", "1"),
        ("X-Keep", "2"),
        ("dapr-caller-app-id", "caller"),
        ("dapr-callee-app-id", "target"),
    ]
