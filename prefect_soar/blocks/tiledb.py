"""The TileDB Cloud credentials block."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, model_validator

from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.clients.tiledb import DEFAULT_BASE_URL, TileDBClient


class TileDBCredentials(ServiceCredentials):
    """Credentials and connection settings for TileDB Cloud (tasks and serverless SQL, API v1).

    Give an API token (preferred) or a username and password; with both, the token is used.

    Example:
        Load saved credentials and list failed tasks:
        ```python
        from prefect_soar.blocks.tiledb import TileDBCredentials

        creds = TileDBCredentials.load("BLOCK_NAME")
        async with creds.get_client() as tiledb:
            page = await tiledb.tasks_get(status="FAILED", per_page=50)
        ```
    """

    _block_type_name = "TileDB Cloud Credentials"
    _block_type_slug = "tiledb-cloud-credentials"
    _description = "Credentials for TileDB Cloud tasks and serverless SQL (API key or username/password)."

    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description=(
            "API root including /v1, e.g. https://api.tiledb.com/v1 or a regional "
            "https://us-east-1.aws.api.tiledb.com/v1."
        ),
    )
    api_key: SecretStr | None = Field(
        default=None,
        title="API key",
        description="REST API token, sent as X-TILEDB-REST-API-KEY (preferred over username and password).",
    )
    username: str | None = Field(
        default=None,
        description="Username for HTTP Basic auth, used when no API key is set.",
    )
    password: SecretStr | None = Field(
        default=None,
        description="Password for HTTP Basic auth.",
    )
    namespace: str | None = Field(
        default=None,
        description="Default namespace (organization or username) that SQL runs under and is charged to.",
    )

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> TileDBCredentials:
        if self.api_key is not None and self.api_key.get_secret_value():
            return self
        if self.username and self.password is not None and self.password.get_secret_value():
            return self
        raise ValueError("TileDB Cloud needs an api_key, or a username and a password")

    def get_client(self, **overrides: Any) -> TileDBClient:
        """Build a :class:`~prefect_soar.clients.tiledb.TileDBClient`; use it as ``async with``.

        Args:
            **overrides: Extra client arguments (e.g. ``retry``, ``transport``, ``sql_timeout``).
        """
        api_key = self.api_key.get_secret_value() if self.api_key is not None else None
        password = self.password.get_secret_value() if self.password is not None else None
        options: dict[str, Any] = {**self.http_options(), **overrides}
        return TileDBClient(
            self.base_url,
            api_key=api_key or None,
            username=None if api_key else self.username,
            password=None if api_key else password,
            **options,
        )


__all__ = ["TileDBCredentials"]
