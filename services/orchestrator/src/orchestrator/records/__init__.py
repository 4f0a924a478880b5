"""Execution records: the append-only ``execution_events`` and the materialized
run/node view built from them (written by activities and API handlers, read by the API)."""
