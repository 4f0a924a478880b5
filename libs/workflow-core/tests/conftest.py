from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def seed_definition() -> dict[str, Any]:
    """The definition of seed 003's API reference, with its node examples, verbatim."""
    return {
        "id": "my-workflow",
        "name": "My Workflow",
        "version": "1.0.0",
        "nodes": [
            {
                "id": "trigger-1",
                "type": "trigger",
                "label": "Start",
                "enabled": True,
                "position": {"x": 0, "y": 100},
                "config": {"triggerType": "manual"},
            },
            {
                "id": "action-1",
                "type": "action",
                "label": "Fetch Data",
                "enabled": True,
                "position": {"x": 200, "y": 100},
                "config": {
                    "actionId": "system/http-request",
                    "url": "https://api.example.com/data",
                    "method": "GET",
                    "headers": '{"Authorization": "Bearer {{trigger.token}}"}',
                },
            },
            {
                "id": "action-2",
                "type": "action",
                "label": "Generate Text",
                "enabled": True,
                "position": {"x": 400, "y": 100},
                "config": {
                    "actionId": "openai/generate-text",
                    "aiModel": "gpt-4o",
                    "aiPrompt": "Summarize: {{FetchData.data.content}}",
                    "aiFormat": "text",
                },
            },
            {
                "id": "approval-1",
                "type": "approval-gate",
                "label": "Manager Approval",
                "enabled": True,
                "position": {"x": 600, "y": 100},
                "config": {
                    "eventName": "manager_approval",
                    "timeoutHours": 24,
                    "message": "Please review the generated content",
                },
            },
            {
                "id": "timer-1",
                "type": "timer",
                "label": "Wait 5 Minutes",
                "enabled": True,
                "position": {"x": 800, "y": 100},
                "config": {"durationMinutes": 5},
            },
        ],
        "edges": [
            {"id": "e1", "source": "trigger-1", "target": "action-1"},
            {"id": "e2", "source": "action-1", "target": "action-2"},
            {"id": "e3", "source": "action-2", "target": "approval-1"},
            {"id": "e4", "source": "approval-1", "target": "timer-1"},
        ],
        "executionOrder": ["trigger-1", "action-1", "action-2", "approval-1", "timer-1"],
        "metadata": {"description": "seed 003", "author": "seed", "tags": ["example"]},
    }
