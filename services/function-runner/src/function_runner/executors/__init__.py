"""Executors: how a registry function runs (builtin handler, OCI container, HTTP webhook)."""
