"""Models of prefect-soar, one module per service."""
