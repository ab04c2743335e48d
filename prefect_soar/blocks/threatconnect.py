"""The ThreatConnect credentials block."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, model_validator

from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.clients.threatconnect_core import DEFAULT_BASE_URL


class ThreatConnectCredentials(ServiceCredentials):
    """Credentials for the ThreatConnect API: an Access ID + Secret Key (HMAC) or an API token.

    Example:
        Load the block and list the open tasks tagged Phishing:
        ```python
        from prefect_soar.blocks.threatconnect import ThreatConnectCredentials

        creds = ThreatConnectCredentials.load("BLOCK_NAME")
        async with creds.get_client() as tc:
            tasks = await tc.list_tasks(tag="Phishing", status_not="Completed")
        ```
    """

    _block_type_name = "ThreatConnect Credentials"
    _block_type_slug = "threatconnect-credentials"
    _description = "Access ID + Secret Key or API token for ThreatConnect Tasks (v2 API)."

    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        title="Base URL",
        description="API root including /api, e.g. https://app.threatconnect.com/api or https://tc.example.org/api.",
    )
    access_id: str | None = Field(
        default=None,
        title="Access ID",
        description="API user Access ID for HMAC signing (with the Secret Key).",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        title="Secret Key",
        description="API user Secret Key for HMAC signing (with the Access ID).",
    )
    api_token: SecretStr | None = Field(
        default=None,
        title="API token",
        description="API token sent as TC-Token, instead of the Access ID and Secret Key.",
    )
    default_owner: str | None = Field(
        default=None,
        description="Owner used when a call names none; empty means the API user's organization.",
    )

    @model_validator(mode="after")
    def _one_auth_method(self) -> ThreatConnectCredentials:
        has_token = self.api_token is not None and bool(self.api_token.get_secret_value())
        has_id = bool(self.access_id)
        has_secret = self.secret_key is not None and bool(self.secret_key.get_secret_value())
        if has_token and (has_id or has_secret):
            raise ValueError("give either Access ID + Secret Key (HMAC) or an API token, not both")
        if not has_token and not (has_id and has_secret):
            if has_id or has_secret:
                raise ValueError("HMAC auth needs both the Access ID and the Secret Key")
            raise ValueError("give Access ID + Secret Key (HMAC) or an API token")
        return self

    def get_client(self, **overrides: Any) -> ThreatConnectClient:
        """Build a new client; use it as ``async with creds.get_client() as tc``.

        Args:
            **overrides: Extra client keywords (``retry``, ``transport``, ``max_concurrency``).
        """
        kwargs: dict[str, Any] = {
            "base_url": self.base_url,
            "default_owner": self.default_owner,
            **self.http_options(),
        }
        if self.api_token is not None and self.api_token.get_secret_value():
            kwargs["api_token"] = self.api_token.get_secret_value()
        else:
            kwargs["access_id"] = self.access_id
            kwargs["secret_key"] = self.secret_key.get_secret_value() if self.secret_key else None
        kwargs.update(overrides)
        return ThreatConnectClient(**kwargs)
