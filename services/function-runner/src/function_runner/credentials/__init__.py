"""Credentials: resolution (secret store, per-run integrations, encrypted DB store), the
AES-GCM keyring with rotation, and the write-only credentials API."""
