"""A PT Sandbox emulator on loopback for the integration and task tests (one per test package)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from prefect_soar.simulators._lab import FaultConfig, LabServer

TASK_COUNT = 250


@pytest.fixture(scope="package")
def sandbox_server() -> Iterator[LabServer]:
    """The emulator with a known data set size and quick scans; faults are cleared after each test."""
    from prefect_soar.simulators.ptsandbox import PTSandboxLabSettings, create_app

    settings = PTSandboxLabSettings(task_count=TASK_COUNT, scan_seconds=0.3)
    with LabServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: LabServer) -> Iterator[LabServer]:
    """The shared emulator, with no faults during the test and none left after it."""
    sandbox_server.control.set_faults(FaultConfig())
    yield sandbox_server
    sandbox_server.control.set_faults(FaultConfig())


@pytest.fixture
def lab_credentials() -> dict[str, str]:
    """Block field -> value the emulator accepts."""
    from prefect_soar.simulators.ptsandbox import LAB_CREDENTIALS

    return dict(LAB_CREDENTIALS)
