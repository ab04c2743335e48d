"""What every prefect-soar credentials block shares: connection options and a connectivity check."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field

DOCS_URL = "https://github.com/prefect-soar/prefect-soar#readme"
LOGO_URL = "https://raw.githubusercontent.com/prefect-soar/prefect-soar/main/prefect_soar/assets/logo.png"


class ServiceCredentials(CredentialsBlock):
    """Base of the service credential blocks: TLS, proxy and timeout options and ``test_connection``."""

    _logo_url = LOGO_URL  # type: ignore[assignment]
    _documentation_url = DOCS_URL  # type: ignore[assignment]

    verify_tls: bool = Field(
        default=True,
        title="Verify TLS",
        description="Verify the service's TLS certificate. Turn off only for a lab; prefer a CA bundle.",
    )
    ca_bundle: str | None = Field(
        default=None,
        title="CA bundle",
        description="Path to a PEM CA bundle that signs the service's certificate (overrides Verify TLS).",
    )
    proxy: str | None = Field(
        default=None,
        description="Proxy URL for every request, e.g. http://proxy.local:3128 or socks5://host:1080.",
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds to wait for connect, read and write before a request times out.",
    )

    def http_options(self) -> dict[str, Any]:
        """The client keyword arguments for TLS, proxy and timeout."""
        verify: bool | str = self.ca_bundle if self.ca_bundle else self.verify_tls
        return {"verify": verify, "timeout": self.timeout, "proxy": self.proxy}

    @abstractmethod
    def get_client(self) -> Any:
        """Build a new client; use it as ``async with block.get_client() as client``."""

    async def test_connection(self) -> str:
        """Make one cheap authenticated call; return ``"ok"`` or raise a typed error.

        Returns:
            The string ``"ok"``, as SOAR test modules do.
        """
        async with self.get_client() as client:
            await client.check_connection()
        return "ok"
