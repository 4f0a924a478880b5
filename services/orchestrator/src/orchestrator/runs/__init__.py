"""The v2 REST API over runs: start, status, events, approvals, control, list, timeline,
live stream, rerun, replay, diff."""
