"""Shared fixtures: the Prefect test harness, the lab, and respx with loopback pass-through."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # test mode would force DEBUG everywhere

from collections.abc import Iterator

import pytest
import respx

from prefect_soar.simulators.lab import Lab


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API (SQLite) for the whole session; use in Prefect tests."""
    from prefect.settings import PREFECT_API_SERVICES_TRIGGERS_ENABLED, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90), temporary_settings(
        {PREFECT_API_SERVICES_TRIGGERS_ENABLED: False}
    ):
        yield


@pytest.fixture
def respx_mock() -> Iterator[respx.MockRouter]:
    """A strict respx router: every route must be called, loopback (Prefect, the lab) passes through."""
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as router:
        yield router


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """All four emulators on free loopback ports, shared by the session (reset state per test as needed)."""
    with Lab() as running:
        yield running


@pytest.fixture
def respx_passthrough() -> Iterator[respx.MockRouter]:
    """respx for Prefect tests: loopback traffic (the Prefect API, the lab) passes through.

    Not every route must be called (the pass-through routes may not be); assert on the
    vendor routes' ``.called`` and ``.calls`` explicitly.
    """
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.route(host="127.0.0.1").pass_through()
        router.route(host="localhost").pass_through()
        yield router
