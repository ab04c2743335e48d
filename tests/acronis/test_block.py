"""AcronisCredentials: Prefect's block standards, client building, secret handling."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

import prefect_soar
from prefect_soar._http import NO_RETRY
from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.clients.acronis import AcronisClient
from prefect_soar.errors import TransportError
from prefect_soar.simulators._lab import LabServer
from prefect_soar.simulators._tls import make_lab_certificates
from prefect_soar.simulators.acronis import LAB_CREDENTIALS, AcronisLabSettings, create_app

LOGO = Path(prefect_soar.__file__).parent / "assets" / "logo.png"


class TestAcronisCredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return AcronisCredentials

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        """No internet here: check the packaged logo the logo URL points at."""
        assert block._logo_url is not None and str(block._logo_url).endswith("prefect_soar/assets/logo.png")
        with Image.open(LOGO) as img:
            assert img.width == img.height
            assert 45 < img.width < 1000


def test_block_identity_and_secret_field() -> None:
    assert AcronisCredentials.get_block_type_slug() == "acronis-credentials"
    assert AcronisCredentials.get_block_type_name() == "Acronis Credentials"
    schema = AcronisCredentials.model_json_schema()
    assert schema["properties"]["client_secret"]["format"] == "password"
    assert set(schema["required"]) == {"base_url", "client_id", "client_secret"}


def test_get_client_builds_a_configured_client_and_never_shows_the_secret() -> None:
    creds = AcronisCredentials(
        base_url="https://eu2-cloud.acronis.com/api/task_manager/v2", client_id="cid",
        client_secret=SecretStr("block-only-secret-value"), timeout=12.5, proxy="http://proxy.local:3128",
        verify_tls=False,
    )
    assert creds.base_url == "https://eu2-cloud.acronis.com"  # the API path is dropped
    client = creds.get_client()
    assert isinstance(client, AcronisClient)
    config = client._http.config
    assert (config.base_url, config.timeout, config.proxy, config.verify) == (
        "https://eu2-cloud.acronis.com", 12.5, "http://proxy.local:3128", False,
    )
    assert "block-only-secret-value" not in repr(creds) + repr(client) + str(creds.model_dump())


def test_an_invalid_data_centre_url_is_refused_at_creation() -> None:
    with pytest.raises(ValidationError, match="not an http"):
        AcronisCredentials(base_url="eu2-cloud.acronis.com", client_id="cid", client_secret=SecretStr("x-value"))


async def test_test_connection_against_the_lab(acronis_lab: LabServer) -> None:
    creds = AcronisCredentials(base_url=acronis_lab.base_url, client_id=LAB_CREDENTIALS["client_id"],
                               client_secret=SecretStr(LAB_CREDENTIALS["client_secret"]))
    assert await creds.test_connection() == "ok"
    assert acronis_lab.app.state.backend.token_requests == 1


async def test_test_connection_over_tls_with_a_ca_bundle(tmp_path: Path) -> None:
    paths = make_lab_certificates(tmp_path)
    app = create_app(AcronisLabSettings(task_count=5))
    with LabServer(app, certfile=str(paths.cert), keyfile=str(paths.key)) as server:
        assert server.base_url.startswith("https://")
        fields = {"base_url": server.base_url, "client_id": LAB_CREDENTIALS["client_id"],
                  "client_secret": SecretStr(LAB_CREDENTIALS["client_secret"])}
        assert await AcronisCredentials(**fields, ca_bundle=str(paths.ca)).test_connection() == "ok"
        untrusting = AcronisCredentials(**fields).get_client(retry=NO_RETRY)
        with pytest.raises(TransportError, match="CA bundle"):  # the system CAs do not know the lab's CA
            async with untrusting:
                await untrusting.check_connection()
