"""Local Dapr-compatible sidecar for embedded mode (see DESIGN.md §2)."""
