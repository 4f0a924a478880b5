"""Dapr's Jobs API (scheduler building block) on SQLite."""
