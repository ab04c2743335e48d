"""Fixtures of the Acronis tests: a loopback emulator with a frozen clock, and client factories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from prefect_soar._http import RetryPolicy
from prefect_soar.clients.acronis import AcronisClient
from prefect_soar.simulators._lab import FaultConfig, LabServer
from prefect_soar.simulators.acronis import LAB_CREDENTIALS, AcronisLabSettings, create_app

LAB_NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_base=0.001)
DC = "https://eu2-cloud.acronis.com"
CLIENT_ID = "6a5e3b9c-1f44-4c1e-9a56-2b5f1d0c7e11"
CLIENT_SECRET = "s3cr3t-acronis-client-secret"


@pytest.fixture(scope="session")
def acronis_server() -> Iterator[LabServer]:
    """One Acronis emulator on loopback for the session, clock frozen at ``LAB_NOW``."""
    with LabServer(create_app(AcronisLabSettings(now=LAB_NOW))) as server:
        yield server


@pytest.fixture
def acronis_lab(acronis_server: LabServer) -> Iterator[LabServer]:
    """The session emulator, back to its seeded state (data, clock, faults, tokens) after each test."""
    yield acronis_server
    acronis_server.control.set_faults(FaultConfig())
    acronis_server.control.reset()
    acronis_server.app.state.backend.revoke_tokens()


@pytest.fixture
def lab_client(acronis_lab: LabServer) -> AcronisClient:
    """A client of the emulator with instant retries (close it with ``async with``)."""
    return lab_client_for(acronis_lab)


def lab_client_for(server: LabServer, **kwargs: Any) -> AcronisClient:
    """Build a client of ``server`` with the lab's credentials."""
    options: dict[str, Any] = {"retry": FAST_RETRY, "timeout": 10.0, **kwargs}
    return AcronisClient(server.base_url, **LAB_CREDENTIALS, **options)


def respx_client(**kwargs: Any) -> AcronisClient:
    """A client of the (mocked) public data centre."""
    options: dict[str, Any] = {"retry": FAST_RETRY, **kwargs}
    return AcronisClient(DC, CLIENT_ID, CLIENT_SECRET, **options)
