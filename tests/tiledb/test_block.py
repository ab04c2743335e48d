"""The TileDBCredentials block: Prefect's standard block tests, validation, client building, save/load."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from PIL import Image
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

import prefect_soar
from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.clients.tiledb import TileDBClient
from prefect_soar.errors import AuthenticationError
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS

LOGO = Path(prefect_soar.__file__).parent / "assets" / "logo.png"


class TestTileDBCredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[TileDBCredentials]:
        return TileDBCredentials

    def test_has_a_valid_image(self, block: type[TileDBCredentials]) -> None:
        # offline: check the packaged logo that _logo_url points at instead of downloading it
        assert block._logo_url is not None and str(block._logo_url).endswith("prefect_soar/assets/logo.png")
        with Image.open(LOGO) as img:
            assert img.width == img.height and 45 < img.width < 1000


@pytest.mark.parametrize(
    "fields",
    [{}, {"username": "u"}, {"password": "p"}, {"api_key": ""}, {"username": "u", "password": ""}],
)
def test_needs_an_api_key_or_username_and_password(fields):
    with pytest.raises(ValidationError, match="api_key, or a username and a password"):
        TileDBCredentials(**fields)


def test_secrets_stay_hidden():
    creds = TileDBCredentials(api_key="tdb-block-secret-key", username="u", password="block-pass-123")
    assert "tdb-block-secret-key" not in repr(creds) and "block-pass-123" not in repr(creds)
    assert isinstance(creds.api_key, SecretStr)
    assert "tdb-block-secret-key" not in repr(creds.get_client())


async def test_get_client_uses_the_fields(respx_mock):
    creds = TileDBCredentials(
        base_url="https://eu-west-1.aws.api.tiledb.com/v1", username="analyst", password="block-pass-123",
        timeout=12.5, verify_tls=True,
    )
    route = respx_mock.get("https://eu-west-1.aws.api.tiledb.com/v1/tasks", params__eq={"page": "1", "per_page": "1"})
    route.mock(return_value=httpx.Response(200, json={}))
    client = creds.get_client()
    assert isinstance(client, TileDBClient)
    assert client._http.config.timeout == 12.5 and client._http.config.verify is True
    assert await creds.test_connection() == "ok"
    assert route.calls.last.request.headers["Authorization"].startswith("Basic ")
    await client.aclose()


async def test_api_key_is_preferred(respx_mock):
    creds = TileDBCredentials(api_key="tdb-block-key-1", username="analyst", password="block-pass-123")
    route = respx_mock.get("https://api.tiledb.com/v1/tasks").mock(return_value=httpx.Response(200, json={}))
    async with creds.get_client() as client:
        await client.tasks_get()
    request = route.calls.last.request
    assert request.headers["X-TILEDB-REST-API-KEY"] == "tdb-block-key-1" and "authorization" not in request.headers


def test_ca_bundle_and_proxy_reach_the_client(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked until used")
    creds = TileDBCredentials(api_key="k-123456", ca_bundle=str(bundle), proxy="http://proxy.local:3128")
    options = creds.http_options()
    assert options == {"verify": str(bundle), "timeout": 30.0, "proxy": "http://proxy.local:3128"}


async def test_test_connection_against_the_lab(tiledb_lab):
    good = TileDBCredentials(base_url=f"{tiledb_lab.base_url}/v1", **LAB_CREDENTIALS)
    assert await good.test_connection() == "ok"
    bad = TileDBCredentials(base_url=f"{tiledb_lab.base_url}/v1", api_key="wrong-key-xyz")
    with pytest.raises(AuthenticationError):
        await bad.test_connection()


async def test_save_and_load_round_trip(prefect_harness):
    creds = TileDBCredentials(api_key="tdb-saved-key-42", namespace="soc-lab")
    await creds.save("tiledb-test-block", overwrite=True)
    loaded = await TileDBCredentials.aload("tiledb-test-block")
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == "tdb-saved-key-42"
    assert loaded.namespace == "soc-lab" and loaded.base_url == "https://api.tiledb.com/v1"
