"""Fault scenarios against the real processes on PostgreSQL: `make chaos`."""
