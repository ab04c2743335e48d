"""The credentials block: Prefect's standard block checks, secrecy, validation and the client it builds."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest
from PIL import Image
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import ValidationError

import prefect_soar
from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.clients.ptsandbox import PTSandboxClient

from .helpers import API_KEY, LOGIN, PASSWORD

LOGO = Path(prefect_soar.__file__).parent / "assets" / "logo.png"


class TestPTSandboxCredentialsStandard(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[PTSandboxCredentials]:
        return PTSandboxCredentials

    def test_has_a_valid_image(self, block: type[PTSandboxCredentials]) -> None:
        # No internet in CI: check the packaged logo the block's _logo_url points at.
        assert block._logo_url is not None and str(block._logo_url).endswith("prefect_soar/assets/logo.png")
        with Image.open(LOGO) as image:
            assert image.width == image.height
            assert 45 < image.width < 1000


def make(**overrides) -> PTSandboxCredentials:
    fields = {"base_url": "https://sandbox.example.com", "api_key": API_KEY, "login": LOGIN, "password": PASSWORD}
    return PTSandboxCredentials(**{**fields, **overrides})


def test_secrets_are_hidden_in_repr_and_dumps():
    block = make()
    for shown in (repr(block), str(block.model_dump()), block.model_dump_json()):
        assert API_KEY not in shown and PASSWORD not in shown
    assert LOGIN in repr(block)  # the account name is not a secret


def test_get_client_passes_credentials_tls_and_proxy_options(monkeypatch):
    seen = {}
    original = PTSandboxClient.__init__

    def spy(self, base_url, **kwargs):
        seen.update(kwargs, base_url=base_url)
        original(self, base_url, **kwargs)

    monkeypatch.setattr(PTSandboxClient, "__init__", spy)
    ca_bundle = certifi.where()  # any real PEM bundle: the client loads it
    client = make(ca_bundle=ca_bundle, proxy="http://proxy.corp:3128", timeout=12.5,
                  auth_type="ldap", token_lifetime=300).get_client()
    assert isinstance(client, PTSandboxClient)
    assert seen == {
        "base_url": "https://sandbox.example.com", "api_key": API_KEY, "login": LOGIN, "password": PASSWORD,
        "auth_type": "ldap", "token_lifetime": 300, "verify": ca_bundle,
        "proxy": "http://proxy.corp:3128", "timeout": 12.5,
    }
    seen.clear()
    make(verify_tls=False, api_key=None).get_client()
    assert seen["verify"] is False and seen["api_key"] is None and seen["proxy"] is None


def test_get_client_checks_the_ca_bundle_exists():
    from prefect_soar.errors import BadInputError

    with pytest.raises(BadInputError, match="CA bundle"):
        make(ca_bundle="/nonexistent/ca.pem").get_client()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"api_key": None, "login": None, "password": None}, "needs an api_key"),
        ({"password": None}, "both login and password"),
        ({"login": None}, "both login and password"),
        ({"auth_type": "kerberos"}, "auth_type"),
    ],
)
def test_incomplete_credentials_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        make(**fields)


def test_api_key_alone_and_ui_login_alone_are_enough():
    assert make(login=None, password=None).get_client().has_api_key
    assert make(api_key=None).get_client().has_ui_credentials
