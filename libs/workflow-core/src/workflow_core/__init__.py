"""The workflow definition core: model, graph analysis, templates, expressions, validation.

Pure Python and deterministic; imported by the services, the CLI and the orchestrator's
workflow code. It never imports a service.
"""

from workflow_core.graph import CycleError, Graph
from workflow_core.model import SerializedEdge, SerializedNode, WorkflowDefinition
from workflow_core.templates import NameIndex, Scope, TemplateError, render
from workflow_core.validation import Issue, Report, validate, validate_document

__all__ = [
    "CycleError",
    "Graph",
    "Issue",
    "NameIndex",
    "Report",
    "Scope",
    "SerializedEdge",
    "SerializedNode",
    "TemplateError",
    "WorkflowDefinition",
    "render",
    "validate",
    "validate_document",
]
