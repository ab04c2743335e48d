"""TLS: the lab serves HTTPS with a CA it generates; clients verify by default and accept it only via ca_bundle.

For every service, the real client (built directly and through its credentials block) must:
refuse the lab's certificate with the default settings (a :class:`TransportError` that names
``ca_bundle``, at once, without retrying and without any request reaching the service), refuse it
with another CA's bundle, and accept it with the lab's CA bundle (one authenticated call).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from prefect_soar._http import RetryPolicy, ServiceClient
from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.clients.acronis import AcronisClient
from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.clients.tiledb import TileDBClient
from prefect_soar.errors import BadInputError, TransportError
from prefect_soar.simulators import SERVICES
from prefect_soar.simulators._tls import make_lab_certificates
from prefect_soar.simulators.lab import Lab

FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.002)


@pytest.fixture(scope="module")
def tls_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with Lab(tls_dir=tmp_path_factory.mktemp("lab-tls")) as lab:
        yield lab


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CA of another lab: a valid bundle that did not sign these certificates."""
    return make_lab_certificates(tmp_path_factory.mktemp("other-ca")).ca


def block_for(lab: Lab, name: str, **fields: Any) -> ServiceCredentials:
    """The service's credentials block pointed at the lab, with extra fields (ca_bundle, verify_tls)."""
    service = lab[name]
    creds = service.credentials
    if name == "ptsandbox":
        return PTSandboxCredentials(base_url=service.base_url, **creds, **fields)
    if name == "threatconnect":
        return ThreatConnectCredentials(base_url=f"{service.base_url}/api", access_id=creds["access_id"],
                                        secret_key=creds["secret_key"], default_owner=creds["default_owner"], **fields)
    if name == "acronis":
        return AcronisCredentials(base_url=service.base_url, **creds, **fields)
    return TileDBCredentials(base_url=f"{service.base_url}/v1", **creds, **fields)


def client_for(lab: Lab, name: str, **options: Any) -> ServiceClient:
    """The service's client built directly (no block), with connection options such as ``verify``."""
    service = lab[name]
    creds = service.credentials
    if name == "ptsandbox":
        return PTSandboxClient(service.base_url, api_key=creds["api_key"], login=creds["login"],
                               password=creds["password"], **options)
    if name == "threatconnect":
        return ThreatConnectClient(base_url=f"{service.base_url}/api", access_id=creds["access_id"],
                                   secret_key=creds["secret_key"], **options)
    if name == "acronis":
        return AcronisClient(service.base_url, creds["client_id"], creds["client_secret"], **options)
    return TileDBClient(f"{service.base_url}/v1", api_key=creds["api_key"], **options)


BUILDS: dict[str, Callable[[Lab, str, Path | None], ServiceClient]] = {
    "block": lambda lab, name, ca: block_for(lab, name, **({"ca_bundle": str(ca)} if ca else {})).get_client(),
    "client": lambda lab, name, ca: client_for(lab, name, **({"verify": str(ca)} if ca else {})),
}
CASES = [pytest.param(name, how, id=f"{name}-{how}") for name in SERVICES for how in BUILDS]


def requests_seen(lab: Lab, name: str) -> int:
    return lab[name].server.control.stats["requests"]


def test_the_lab_serves_https_with_a_generated_ca(tls_lab: Lab):
    assert tls_lab.ca_path is not None and tls_lab.ca_path.is_file()
    assert set(tls_lab.running) == set(SERVICES)
    assert all(service.base_url.startswith("https://127.0.0.1:") for service in tls_lab.running.values())
    ca = x509.load_pem_x509_certificate(tls_lab.ca_path.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    key = tls_lab.ca_path.parent / "server-key.pem"
    assert key.stat().st_mode & 0o077 == 0, "the server key must not be readable by others"


@pytest.mark.parametrize(("name", "how"), CASES)
async def test_default_settings_refuse_the_lab_certificate(tls_lab: Lab, name: str, how: str):
    before = requests_seen(tls_lab, name)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        async with BUILDS[how](tls_lab, name, None) as client:  # default retry policy: 5 attempts
            await client.check_connection()
    elapsed = time.monotonic() - started
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert "give the service's CA bundle (ca_bundle) instead of disabling verification" in str(caught.value)
    assert caught.value.service == name
    assert elapsed < 1.0, "a TLS verification failure must not be retried"
    assert requests_seen(tls_lab, name) == before, "no request may reach the service over an unverified channel"


@pytest.mark.parametrize(("name", "how"), CASES)
async def test_another_cas_bundle_is_refused_too(tls_lab: Lab, other_ca: Path, name: str, how: str):
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        async with BUILDS[how](tls_lab, name, other_ca) as client:
            await client.check_connection()


@pytest.mark.parametrize(("name", "how"), CASES)
async def test_the_lab_ca_bundle_is_accepted(tls_lab: Lab, name: str, how: str):
    assert tls_lab.ca_path is not None
    before = requests_seen(tls_lab, name)
    async with BUILDS[how](tls_lab, name, tls_lab.ca_path) as client:
        await client.check_connection()
    assert requests_seen(tls_lab, name) > before


@pytest.mark.parametrize("name", SERVICES)
async def test_block_test_connection_with_the_ca_bundle(tls_lab: Lab, name: str):
    assert await block_for(tls_lab, name, ca_bundle=str(tls_lab.ca_path)).test_connection() == "ok"


@pytest.mark.parametrize("name", SERVICES)
def test_a_missing_ca_bundle_file_is_bad_input(tls_lab: Lab, tmp_path: Path, name: str):
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(BadInputError, match=r"no-such-ca\.pem' does not exist"):
        block_for(tls_lab, name, ca_bundle=str(missing)).get_client()


def read_lines(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


async def test_cli_lab_with_tls_dir_prints_the_ca_path_and_serves_https(tmp_path: Path):
    tls_dir = tmp_path / "tls"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect_soar.cli", "lab", "tiledb", "--random-ports", "--tls-dir", str(tls_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("credentials:" in line for line in seen):
            assert process.poll() is None, f"the lab exited early: {''.join(seen)}"
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        output = "".join(seen)
        assert f"TLS CA bundle: {tls_dir / 'ca.pem'}  (give it to the blocks as ca_bundle)" in output
        url = next(line.split()[1] for line in seen if line.strip().startswith("tiledb"))
        assert url.startswith("https://127.0.0.1:")
        from prefect_soar.simulators.tiledb import LAB_CREDENTIALS

        block = TileDBCredentials(base_url=f"{url}/v1", api_key=LAB_CREDENTIALS["api_key"],
                                  ca_bundle=str(tls_dir / "ca.pem"))
        assert await block.test_connection() == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    assert process.returncode == 0
