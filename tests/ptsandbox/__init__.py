"""PT Sandbox: models, client, block and tasks."""
