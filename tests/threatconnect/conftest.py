"""Fixtures for the ThreatConnect client, block and task tests.

* ``tc_api``: a respx recorder for ``https://tc.example/api`` that answers queued responses and
  keeps every request, so tests assert the exact method, raw path + query, headers and body;
* ``tc_lab``: the ThreatConnect emulator on loopback (one per session), reset before each test
  that uses ``lab_client`` / ``lab_creds``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx
from tc_helpers import ACCESS_ID, BASE_URL, FAST, SECRET, VECTOR_TS, Recorder

from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.simulators._lab import LabServer


@pytest.fixture
def tc_api(respx_mock: respx.MockRouter) -> Recorder:
    return Recorder(respx_mock)


@pytest.fixture
async def tc_client() -> AsyncIterator[ThreatConnectClient]:
    """HMAC client on the fake host with the reference secret and a frozen clock."""
    async with ThreatConnectClient(
        base_url=BASE_URL, access_id=ACCESS_ID, secret_key=SECRET, clock=lambda: VECTOR_TS, retry=FAST,
    ) as client:
        yield client


@pytest.fixture
async def owner_client() -> AsyncIterator[ThreatConnectClient]:
    """Like ``tc_client`` with ``default_owner="Example Org"``."""
    async with ThreatConnectClient(
        base_url=BASE_URL, access_id=ACCESS_ID, secret_key=SECRET, clock=lambda: VECTOR_TS, retry=FAST,
        default_owner="Example Org",
    ) as client:
        yield client


@pytest.fixture(scope="session")
def tc_lab() -> Iterator[LabServer]:
    """The ThreatConnect emulator on a free loopback port, shared by the session."""
    from prefect_soar.simulators.threatconnect import create_app

    with LabServer(create_app()) as server:
        yield server


@pytest.fixture
def lab_credentials(tc_lab: LabServer) -> dict[str, str]:
    """Block fields for the emulator (HMAC), after resetting its state."""
    from prefect_soar.simulators.threatconnect import LAB_CREDENTIALS

    tc_lab.app.state.backend.reset()
    return {
        "base_url": f"{tc_lab.base_url}/api",
        "access_id": LAB_CREDENTIALS["access_id"],
        "secret_key": LAB_CREDENTIALS["secret_key"],
        "default_owner": LAB_CREDENTIALS["default_owner"],
    }


@pytest.fixture
async def lab_client(lab_credentials: dict[str, str]) -> AsyncIterator[ThreatConnectClient]:
    """A real client on the emulator over loopback."""
    async with ThreatConnectClient(**lab_credentials, retry=FAST) as client:
        yield client
