"""Prefect credentials block of an Acronis Cyber Protect Cloud API client (Task Manager API)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from prefect_soar._http import RetryPolicy
from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.clients.acronis import AcronisClient, normalize_base_url


class AcronisCredentials(ServiceCredentials):
    """Credentials of an Acronis Cyber Protect Cloud API client, used to read Task Manager tasks and activities.

    Create the API client in the Management Portal (Settings > API clients > Create API client): it
    shows the client id, the secret (only once) and the data-centre URL. The client gets an OAuth2
    token with them and refreshes it by itself.

    Example:
        Load the block and list yesterday's failed backups:
        ```python
        import asyncio
        from datetime import datetime, timedelta, timezone

        from prefect_soar.blocks.acronis import AcronisCredentials
        from prefect_soar.clients.acronis import TimeFilter

        creds = AcronisCredentials.load("BLOCK_NAME")

        async def main() -> None:
            since = datetime.now(timezone.utc) - timedelta(days=1)
            async with creds.get_client() as client:
                async for task in client.iter_tasks(
                    type="backup", result_code="error", completed_at=TimeFilter.after(since)
                ):
                    print(task.key, task.resource.name if task.resource else "", task.error_message)

        asyncio.run(main())
        ```
    """

    _block_type_name = "Acronis Credentials"
    _block_type_slug = "acronis-credentials"

    base_url: str = Field(
        default=...,
        title="Data-centre URL",
        description="The data-centre URL shown with the API client, e.g. https://eu2-cloud.acronis.com.",
    )
    client_id: str = Field(
        default=...,
        title="Client ID",
        description="The API client id (Management Portal > Settings > API clients).",
    )
    client_secret: SecretStr = Field(
        default=...,
        title="Client secret",
        description="The API client secret, shown once when the client is created.",
    )

    @field_validator("base_url")
    @classmethod
    def _data_centre_url(cls, value: str) -> str:
        return normalize_base_url(value)

    def get_client(self, retry: RetryPolicy | None = None) -> AcronisClient:
        """Build a new client; use it as ``async with creds.get_client() as client``.

        Args:
            retry: Optional retry policy (default: the client's).

        Returns:
            An :class:`~prefect_soar.clients.acronis.AcronisClient`.
        """
        return AcronisClient(
            self.base_url, self.client_id, self.client_secret.get_secret_value(), retry=retry, **self.http_options(),
        )
