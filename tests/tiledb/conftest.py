"""Fixtures of the TileDB tests: the emulator over loopback, clients, the spec."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from prefect_soar._http import RetryPolicy
from prefect_soar.clients.tiledb import TileDBClient
from prefect_soar.simulators._lab import FaultConfig, LabServer
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS, create_app
from prefect_soar.simulators.tiledb_backend import TileDBBackend, TileDBLabSettings

from .openapi_contract import ContractTransport, Spec, load_spec, optional_spec

FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.002)


@pytest.fixture(scope="session")
def tiledb_server() -> Iterator[LabServer]:
    """One TileDB emulator on a loopback port for the session (reset per test by ``tiledb_lab``)."""
    with LabServer(create_app(TileDBLabSettings(completion_delay_seconds=0.1))) as server:
        yield server


@pytest.fixture
def tiledb_lab(tiledb_server: LabServer) -> Iterator[LabServer]:
    """The emulator, back to its seeded state, default timing and no faults."""
    tiledb_server.control.set_faults(FaultConfig())
    tiledb_server.control.reset()
    backend = tiledb_server.app.state.backend
    backend.settings.completion_delay_seconds = 0.1
    yield tiledb_server
    tiledb_server.control.set_faults(FaultConfig())


@pytest.fixture
def backend(tiledb_lab: LabServer) -> TileDBBackend:
    """The emulator's state."""
    return tiledb_lab.app.state.backend  # type: ignore[no-any-return]


@pytest.fixture
def spec() -> Spec:
    """TileDB's official spec (skips when ../shared is absent)."""
    return load_spec()


@pytest.fixture
def contract(spec: Spec) -> ContractTransport:
    """A loopback transport that checks every exchange against the spec."""
    return ContractTransport(spec, httpx.AsyncHTTPTransport())


@pytest.fixture
async def lab_client(tiledb_lab: LabServer) -> AsyncIterator[TileDBClient]:
    """The real client against the emulator over loopback; with the spec at hand, every exchange is checked."""
    spec = optional_spec()
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
    if spec is not None:
        transport = ContractTransport(spec, transport)
    async with TileDBClient(
        f"{tiledb_lab.base_url}/v1", api_key=LAB_CREDENTIALS["api_key"], retry=FAST, transport=transport
    ) as client:
        yield client
    if isinstance(transport, ContractTransport):
        assert transport.problems == [], "the emulator or the client broke the official spec"
