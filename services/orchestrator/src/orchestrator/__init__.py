"""Workflow Orchestrator: Durable dynamic interpreter of workflow definitions on Dapr Workflows, and the v2 REST API."""

__version__ = "0.1.0"
