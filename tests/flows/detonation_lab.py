"""The PT Sandbox + ThreatConnect lab for the detonation flow tests, and the saved blocks pointing at it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.ptsandbox import LAB_CREDENTIALS as PT_CREDENTIALS
from prefect_soar.simulators.ptsandbox import PTSandboxLabSettings
from prefect_soar.simulators.threatconnect import LAB_CREDENTIALS as TC_CREDENTIALS

SCAN_SECONDS = 0.2
FAST_POLL = 0.05


@contextmanager
def detonation_lab(scan_seconds: float = SCAN_SECONDS) -> Iterator[Lab]:
    """PT Sandbox (quick scans, a small seeded set) and ThreatConnect on free loopback ports."""
    settings = {"ptsandbox": PTSandboxLabSettings(task_count=5, scan_seconds=scan_seconds)}
    with Lab(services=["ptsandbox", "threatconnect"], settings=settings) as lab:
        yield lab


@dataclass
class LabBlocks:
    """Names of the saved blocks pointing at the lab."""

    ptsandbox: str
    threatconnect: str

    def params(self) -> dict[str, Any]:
        """Flow parameters naming these blocks, plus a quick poll."""
        return {"sandbox_block": self.ptsandbox, "threatconnect_block": self.threatconnect,
                "poll_seconds": FAST_POLL, "timeout_seconds": 30}


def ptsandbox_block(lab: Lab) -> PTSandboxCredentials:
    """A PT Sandbox block for the lab (API key and UI login)."""
    return PTSandboxCredentials(base_url=lab["ptsandbox"].base_url, **PT_CREDENTIALS)


def threatconnect_block(lab: Lab) -> ThreatConnectCredentials:
    """A ThreatConnect block for the lab (HMAC)."""
    return ThreatConnectCredentials(
        base_url=f"{lab['threatconnect'].base_url}/api", access_id=TC_CREDENTIALS["access_id"],
        secret_key=TC_CREDENTIALS["secret_key"], default_owner=TC_CREDENTIALS["default_owner"],
    )


async def save_lab_blocks(lab: Lab, ptsandbox_name: str | None = None, tc_name: str | None = None) -> LabBlocks:
    """Save both blocks (unique names unless given) on the current Prefect API."""
    suffix = uuid.uuid4().hex[:8]
    names = LabBlocks(ptsandbox_name or f"det-pt-{suffix}", tc_name or f"det-tc-{suffix}")
    await ptsandbox_block(lab).asave(names.ptsandbox, overwrite=True)
    await threatconnect_block(lab).asave(names.threatconnect, overwrite=True)
    return names


def reset_lab(lab: Lab) -> None:
    """Restore both emulators' seeded state and clear their faults' counters."""
    for name in lab.running:
        lab[name].server.control.reset()


def public_scans(lab: Lab) -> list[Any]:
    """The scans submitted through PT Sandbox's public API (the lab's API key)."""
    backend = lab["ptsandbox"].backend
    return backend.all_rows(PT_CREDENTIALS["api_key"])


def tc_tasks(lab: Lab, marker: str) -> list[Any]:
    """ThreatConnect tasks whose name carries the marker prefix."""
    return lab["threatconnect"].backend.find_tasks(name_prefix=f"[{marker}] ")
