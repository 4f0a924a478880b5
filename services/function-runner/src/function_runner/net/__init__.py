"""Outbound HTTP safety: the SSRF policy and the guarded client built on it."""
