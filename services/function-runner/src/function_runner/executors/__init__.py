"""Executors other than builtin handlers: HTTP webhooks (:mod:`.http`) and OCI containers
as Kubernetes Jobs (:mod:`.oci`)."""
