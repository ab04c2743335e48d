"""The triage's item-level retry against the ThreatConnect emulator: a repeat completes the task, and
indicators created by an earlier attempt are not created again (found by the chaos run: every retry
re-sent them all)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from prefect_soar._http import RetryPolicy
from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.flows import sandbox_triage
from prefect_soar.flows.sandbox_triage import SandboxFinding, TriageSettings, record
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.threatconnect_records import ThreatConnectError

SETTINGS = TriageSettings(
    artifact_dir="unused", download_artifacts=False, max_scanned_artifacts=1, tags=(), security_label=None,
    sandbox_url="https://sandbox.lab",
)


class Busy(ThreatConnectError):
    status_code = 503
    default_message = "busy"


@pytest.fixture(scope="module")
def tc_lab() -> Iterator[Lab]:
    with Lab(services=["threatconnect"]) as lab:
        yield lab


async def test_a_repeated_item_completes_its_task_and_creates_each_indicator_once(
    tc_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_triage, "_item_backoff", lambda attempt: 0.0)
    backend = tc_lab["threatconnect"].backend
    created: Counter[str] = Counter()
    create_indicator, add_attribute = backend.create_indicator, backend.add_attribute
    refusals = iter([True, False])

    def counting_create(branch: str, body: Any, owner: Any, **kwargs: Any) -> Any:
        created[next(iter(v for v in body.values() if isinstance(v, str)))] += 1
        return create_indicator(branch, body, owner, **kwargs)

    def busy_once(task: Any, body: Any) -> Any:  # the first Source attribute is refused: the item goes again
        if body.get("type") == "Source" and next(refusals, False):
            raise Busy()
        return add_attribute(task, body)

    monkeypatch.setattr(backend, "create_indicator", counting_create)
    monkeypatch.setattr(backend, "add_attribute", busy_once)
    scan_id = str(uuid.uuid4())
    hashes = [f"{n:064x}" for n in (11, 12)]
    finding = SandboxFinding(
        scan_id=scan_id, name="invoice.exe", start=datetime.now(UTC), verdict="DANGEROUS",
        file_hashes=hashes, network=[("DOMAIN", "evil.example")],
    )
    tc = tc_lab["threatconnect"]
    async with ThreatConnectClient(
        base_url=f"{tc.base_url}/api", access_id=tc.credentials["access_id"], secret_key=tc.credentials["secret_key"],
        default_owner=tc.credentials["default_owner"], retry=RetryPolicy(max_attempts=2, backoff_base=0.001),
    ) as client:
        item = await record(client, finding, SETTINGS)

    assert item.ok and item.created, item.error
    assert created == Counter({hashes[0]: 1, hashes[1]: 1, "evil.example": 1}), "each indicator created once"
    [task] = [t for t in backend.tasks.values() if t.name.startswith(f"[ptsandbox:{scan_id}]")]
    assert f"ext:ptsandbox:{scan_id}" in task.tags, "the repeat completed the task"
    assert Counter(a.type for a in task.attributes.values()) == Counter(
        {"Description": 1, "Source": 1, "External ID": 1}
    )
    assert len(task.indicators) == 3
