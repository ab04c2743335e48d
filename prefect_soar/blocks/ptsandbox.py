"""The PT Sandbox credentials block."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.clients.ptsandbox import DEFAULT_TOKEN_LIFETIME, PTSandboxClient


class PTSandboxCredentials(ServiceCredentials):
    """Credentials and connection settings for a PT Sandbox appliance (Positive Technologies).

    Two surfaces, two kinds of credentials; set the ones your flows need:

    * an **API key** for the public API: submit files and URLs, poll and read reports;
    * a **login and password** (local or LDAP account) for the UI API: list and export tasks,
      read artifact trees and engine scans, download artifacts.

    Example:
        Load saved credentials and list this week's dangerous tasks:
        ```python
        from prefect_soar.blocks.ptsandbox import PTSandboxCredentials

        creds = PTSandboxCredentials.load("BLOCK_NAME")
        async with creds.get_client() as sandbox:
            async for task in sandbox.iter_tasks("age < 7d AND verdict = DANGEROUS", max_items=200):
                print(task.id, task.name)
        ```
    """

    _block_type_name = "PT Sandbox Credentials"
    _block_type_slug = "ptsandbox-credentials"
    _description = "Credentials for PT Sandbox: an API key for scans and reports, a UI login for tasks and artifacts."

    base_url: str = Field(
        title="Base URL",
        description="Root URL of the appliance, e.g. https://sandbox.example.com (/api/ui and /api/v1 are added).",
    )
    api_key: SecretStr | None = Field(
        default=None,
        title="API key",
        description="Public API token (sent as X-Api-Key), needed to submit scans and read their reports.",
    )
    login: str | None = Field(
        default=None,
        description="UI account name, needed (with the password) to list tasks and download artifacts.",
    )
    password: SecretStr | None = Field(
        default=None,
        description="UI account password.",
    )
    auth_type: Literal["default", "ldap"] = Field(
        default="default",
        title="Account type",
        description="Whether the UI account is a local account (default) or an LDAP account (ldap).",
    )
    token_lifetime: float = Field(
        default=DEFAULT_TOKEN_LIFETIME,
        gt=0,
        title="UI token lifetime",
        description="Seconds after which the UI bearer token is refreshed (the appliance issues 8-minute tokens).",
    )

    @model_validator(mode="after")
    def _some_way_to_authenticate(self) -> PTSandboxCredentials:
        has_password = self.password is not None and bool(self.password.get_secret_value())
        if bool(self.login) != has_password:
            raise ValueError("PT Sandbox needs both login and password for the UI API, or neither")
        has_key = self.api_key is not None and bool(self.api_key.get_secret_value())
        if not has_key and not self.login:
            raise ValueError("PT Sandbox needs an api_key, or a login and a password, or both")
        return self

    def get_client(self, **overrides: Any) -> PTSandboxClient:
        """Build a :class:`~prefect_soar.clients.ptsandbox.PTSandboxClient`; use it as ``async with``.

        Args:
            **overrides: Extra client arguments (e.g. ``retry``, ``transport``).
        """
        api_key = self.api_key.get_secret_value() if self.api_key is not None else None
        password = self.password.get_secret_value() if self.password is not None else None
        options: dict[str, Any] = {**self.http_options(), **overrides}
        return PTSandboxClient(
            self.base_url,
            api_key=api_key or None,
            login=self.login or None,
            password=password or None,
            auth_type=self.auth_type,
            token_lifetime=self.token_lifetime,
            **options,
        )
