"""Function Runner: Executes functions from the registry: builtin handlers, OCI containers as Kubernetes Jobs, HTTP webhooks."""

__version__ = "0.1.0"
