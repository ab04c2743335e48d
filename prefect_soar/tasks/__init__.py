"""Tasks of prefect-soar, one module per service."""
