"""Pub/sub: CloudEvents, the SQLite log, subscriptions and delivery."""
