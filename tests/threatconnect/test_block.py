"""ThreatConnectCredentials: Prefect's block standard suite, validation, and the client it builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.clients.threatconnect_auth import ThreatConnectHMACAuth, ThreatConnectTokenAuth

LOGO = Path(__file__).resolve().parents[2] / "prefect_soar" / "assets" / "logo.png"


class TestThreatConnectCredentialsStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return ThreatConnectCredentials

    def test_has_a_valid_image(self, block: type[Block]) -> None:  # type: ignore[override]
        """No internet: check the packaged logo instead of the URL."""
        from PIL import Image

        assert block._logo_url and str(block._logo_url).endswith("prefect_soar/assets/logo.png")
        with Image.open(LOGO) as img:
            assert img.width == img.height
            assert 45 < img.width < 1000


def test_slug_and_secrets() -> None:
    creds = ThreatConnectCredentials(access_id="id", secret_key=SecretStr("top-secret-value"), default_owner="Org")
    assert ThreatConnectCredentials.get_block_type_slug() == "threatconnect-credentials"
    assert "top-secret-value" not in repr(creds) and "top-secret-value" not in str(creds.model_dump())
    assert ThreatConnectCredentials.model_fields["api_token"].annotation == SecretStr | None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Access ID \\+ Secret Key \\(HMAC\\) or an API token"),
        ({"access_id": "id"}, "both the Access ID and the Secret Key"),
        ({"secret_key": "s"}, "both the Access ID and the Secret Key"),
        ({"access_id": "id", "secret_key": "s", "api_token": "t"}, "not both"),
    ],
)
def test_needs_exactly_one_auth_method(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ThreatConnectCredentials(**fields)


async def test_get_client_hmac_with_http_options() -> None:
    creds = ThreatConnectCredentials(
        base_url="https://tc.example/api", access_id="id", secret_key=SecretStr("s3cret"), default_owner="Org",
        timeout=12.5, proxy="http://proxy.local:3128",
    )
    async with creds.get_client() as client:
        assert isinstance(client, ThreatConnectClient)
        assert client.default_owner == "Org"
        assert client._http.config.base_url == "https://tc.example/api"
        assert client._http.config.timeout == 12.5 and client._http.config.proxy == "http://proxy.local:3128"
        assert isinstance(client._http.client.auth, ThreatConnectHMACAuth)
        assert "s3cret" not in repr(client)


async def test_get_client_token() -> None:
    creds = ThreatConnectCredentials(api_token=SecretStr("tok-123456"), verify_tls=False)
    async with creds.get_client() as client:
        assert isinstance(client._http.client.auth, ThreatConnectTokenAuth)
        assert client._http.config.verify is False
        assert client._http.config.base_url == "https://app.threatconnect.com/api"


async def test_test_connection_against_the_emulator(lab_credentials: dict[str, str]) -> None:
    creds = ThreatConnectCredentials(**lab_credentials)  # type: ignore[arg-type]
    assert await creds.test_connection() == "ok"
    bad = ThreatConnectCredentials(**{**lab_credentials, "secret_key": "wrong"})  # type: ignore[arg-type]
    from prefect_soar.errors import AuthenticationError

    with pytest.raises(AuthenticationError, match="Signature Data Did Not Match"):
        await bad.test_connection()
