"""The sandbox → ThreatConnect triage flow, end to end against the lab, exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.flows.sandbox_triage import DEFAULT_QUERY, build_query, sandbox_triage
from prefect_soar.flows.watermark import load_watermark
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.threatconnect_records import ThreatConnectError

pytestmark = pytest.mark.usefixtures("prefect_harness")
LOOKBACK_HOURS = 24 * 40


@pytest.fixture(scope="module")
def triage_lab() -> Iterator[Lab]:
    settings = {"ptsandbox": {"task_count": 200, "scan_seconds": 0}}
    with Lab(services=["ptsandbox", "threatconnect"], settings=settings) as lab:
        yield lab


@pytest.fixture
async def blocks(triage_lab: Lab) -> tuple[str, str]:
    triage_lab["threatconnect"].server.control.reset()
    pt, tc = triage_lab["ptsandbox"], triage_lab["threatconnect"]
    suffix = uuid.uuid4().hex[:8]
    await PTSandboxCredentials(
        base_url=pt.base_url, login=pt.credentials["login"], password=pt.credentials["password"]
    ).save(f"triage-pt-{suffix}", overwrite=True)
    await ThreatConnectCredentials(
        base_url=f"{tc.base_url}/api", access_id=tc.credentials["access_id"],
        secret_key=tc.credentials["secret_key"], default_owner=tc.credentials["default_owner"],
    ).save(f"triage-tc-{suffix}", overwrite=True)
    return f"triage-pt-{suffix}", f"triage-tc-{suffix}"


async def expected_detections(lab: Lab) -> dict[str, str]:
    """Sandbox task id -> verdict of every task the default query matches (read independently)."""
    pt = lab["ptsandbox"]
    since = datetime.now(UTC) - timedelta(hours=LOOKBACK_HOURS)
    async with PTSandboxClient(pt.base_url, login=pt.credentials["login"], password=pt.credentials["password"]) as c:
        query = build_query(DEFAULT_QUERY, since)
        return {str(t.id): t.verdict or "" async for t in c.iter_tasks(query, page_size=200)}


def triage_tasks(lab: Lab) -> dict[str, Any]:
    """Marker -> ThreatConnect task of every triage task in the emulator."""
    found = {}
    for task in lab["threatconnect"].backend.tasks.values():
        if task.name.startswith("[ptsandbox:"):
            marker = task.name[1 : task.name.index("]")]
            assert marker not in found, f"duplicate ThreatConnect task for {marker}"
            found[marker] = task
    return found


async def read_events(name: str, *, since: datetime, until_resources: set[str]) -> list[Any]:
    """Events named ``name`` since ``since``; waits (events are shipped in the background) until all are in."""
    found: list[Any] = []
    for _ in range(40):
        async with get_client() as client:
            page = await client.read_events(
                EventFilter(event=EventNameFilter(name=[name]),
                            occurred=EventOccurredFilter(since=since - timedelta(seconds=5))),
                limit=50,
            )
            found = list(page.events)
            while page.next_page:
                page = await client.read_events_page(page.next_page)
                found.extend(page.events)
        if until_resources <= {e.resource.id for e in found}:
            break
        await asyncio.sleep(0.25)
    return found


async def run(blocks: tuple[str, str], tmp_path: Path, watermark: str, **kwargs: Any) -> dict[str, Any]:
    return await sandbox_triage(
        sandbox_block=blocks[0], threatconnect_block=blocks[1], first_run_lookback_hours=LOOKBACK_HOURS,
        artifact_dir=str(tmp_path / "store"), watermark=watermark, page_size=20, **kwargs,
    )


async def test_triage_creates_one_complete_task_per_detection(
    triage_lab: Lab, blocks: tuple[str, str], tmp_path: Path
) -> None:
    expected = await expected_detections(triage_lab)
    assert len(expected) > 40, "the lab should hold enough detections for several pages"
    started = datetime.now(UTC)
    summary = await run(blocks, tmp_path, "triage-e2e", tags=["soc-lab"], security_label="TLP:AMBER")

    assert summary["processed"] == summary["created"] == len(expected)
    tasks = triage_tasks(triage_lab)
    assert set(tasks) == {f"ptsandbox:{scan_id}" for scan_id in expected}
    backend = triage_lab["threatconnect"].backend
    for scan_id, verdict in expected.items():
        task = tasks[f"ptsandbox:{scan_id}"]
        assert {"pt-sandbox", verdict, "soc-lab", f"ext:ptsandbox:{scan_id}"} <= set(task.tags)
        assert task.labels == ["TLP:AMBER"]
        assert task.attribute_values("External ID") == [scan_id]
        assert task.attribute_values("Source") == ["PT Sandbox"]
        [description] = task.attribute_values("Description")
        assert f"verdict: {verdict}" in description and f"/tasks/{scan_id}" in description
        files = [backend.indicators[i] for i in task.indicators if backend.indicators[i].kind.branch == "files"]
        assert files, "every detection is associated with its File indicators"
        archive = tmp_path / "store" / scan_id[:2] / f"{scan_id}.zip"
        assert archive.read_bytes()[:2] == b"PK" and archive.stat().st_mode & 0o777 == 0o600

    mark = await load_watermark("triage-e2e")
    assert mark.timestamp is not None and mark.processed == len(expected)
    assert any(scan_id in mark.boundary_ids for scan_id in expected)

    wanted = {f"ptsandbox.task.{s}" for s in expected}
    events = await read_events("prefect-soar.sandbox.detection", since=started, until_resources=wanted)
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sandbox-triage", "sandbox-triage-summary"]))
        )
    resources = {e.resource.id for e in events}
    assert wanted <= resources
    related = {r.id for e in events for r in e.related}
    assert any(rid.startswith("threatconnect.task.") for rid in related)
    assert {a.key for a in artifacts} == {"sandbox-triage", "sandbox-triage-summary"}
    table = next(a for a in artifacts if a.key == "sandbox-triage")
    assert all(scan_id in str(table.data) for scan_id in expected)


async def test_second_run_creates_nothing(triage_lab: Lab, blocks: tuple[str, str], tmp_path: Path) -> None:
    first = await run(blocks, tmp_path, "triage-twice")
    before = triage_tasks(triage_lab)
    second = await run(blocks, tmp_path, "triage-twice")
    assert first["created"] == len(before) > 0
    assert second["processed"] == 0 and second["created"] == 0
    assert triage_tasks(triage_lab).keys() == before.keys()


async def test_cap_per_run_then_the_rest_next_run(triage_lab: Lab, blocks: tuple[str, str], tmp_path: Path) -> None:
    expected = await expected_detections(triage_lab)
    first = await run(blocks, tmp_path, "triage-cap", max_items=7)
    assert first["processed"] == 7
    second = await run(blocks, tmp_path, "triage-cap", max_items=1000)
    assert second["processed"] == len(expected) - 7 and second["created"] == len(expected) - 7
    assert len(triage_tasks(triage_lab)) == len(expected)


async def test_fail_half_way_then_rerun_is_exactly_once(
    triage_lab: Lab, blocks: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await expected_detections(triage_lab)
    backend = triage_lab["threatconnect"].backend
    original = backend.create_task
    created: list[int] = []

    def failing_after_25(owner: Any, body: Any) -> Any:
        if len(created) >= 25:
            raise ThreatConnectError("lab: create refused")
        task = original(owner, body)
        created.append(task.id)
        return task

    monkeypatch.setattr(backend, "create_task", failing_after_25)
    with pytest.raises(RuntimeError, match="could not be triaged"):
        await run(blocks, tmp_path, "triage-crash")
    half = await load_watermark("triage-crash")
    assert 0 < half.processed < len(expected), "the watermark covers only what was fully processed"
    assert len(triage_tasks(triage_lab)) == 25

    monkeypatch.setattr(backend, "create_task", original)
    rerun = await run(blocks, tmp_path, "triage-crash")
    tasks = triage_tasks(triage_lab)
    assert set(tasks) == {f"ptsandbox:{s}" for s in expected}, "nothing skipped, nothing duplicated"
    assert all(f"ext:{marker}" in task.tags for marker, task in tasks.items()), "every task completed"
    assert rerun["created"] == len(expected) - 25
    assert (await load_watermark("triage-crash")).processed == len(expected)


async def test_half_built_tasks_are_completed_on_rerun(
    triage_lab: Lab, blocks: tuple[str, str], tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="could not be triaged"):
        await run(blocks, tmp_path, "triage-label", security_label="TLP:NOT-A-LABEL", max_items=10)
    half_built = triage_tasks(triage_lab)
    assert half_built and all(not any(t.startswith("ext:") for t in task.tags) for task in half_built.values())
    await run(blocks, tmp_path, "triage-label", security_label="TLP:AMBER", max_items=10)
    completed = triage_tasks(triage_lab)
    assert half_built.keys() <= completed.keys()
    for marker in half_built:
        assert completed[marker].id == half_built[marker].id
        assert completed[marker].labels == ["TLP:AMBER"] and f"ext:{marker}" in completed[marker].tags
        assert len(completed[marker].attribute_values("External ID")) == 1


def test_query_building_rejects_order_by() -> None:
    since = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    assert build_query("verdict = DANGEROUS", since) == (
        "start >= 2026-01-02T03:04:05Z AND (verdict = DANGEROUS) ORDER BY start ASC"
    )
    with pytest.raises(ValueError, match="ORDER BY"):
        build_query("verdict = DANGEROUS ORDER BY start DESC", since)


async def test_missing_block_is_a_clear_error(triage_lab: Lab) -> None:
    with pytest.raises(ValueError, match="no saved PTSandboxCredentials block named 'nope'"):
        await sandbox_triage(sandbox_block="nope", threatconnect_block="nope", watermark="triage-missing")


def test_flow_parameters_render_as_a_form() -> None:
    schema = sandbox_triage.parameters
    assert {"sandbox_block", "threatconnect_block", "query", "max_items", "concurrency"} <= set(schema.properties)
    assert all(prop.get("description") for prop in schema.properties.values())
