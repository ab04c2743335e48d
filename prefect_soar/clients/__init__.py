"""Clients of prefect-soar, one module per service."""
