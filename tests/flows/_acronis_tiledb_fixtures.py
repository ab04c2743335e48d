"""Helpers of the Acronis and TileDB flow tests: blocks pointing at the lab, ThreatConnect state, events, artifacts."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey, FlowRunFilter, FlowRunFilterId
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.simulators.lab import Lab


def unique(prefix: str) -> str:
    """A fresh name (blocks, watermarks) so tests never share state in the session's Prefect API."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def save_threatconnect_block(lab: Lab) -> str:
    """Save a ThreatConnect block pointing at the lab; return its name."""
    tc = lab["threatconnect"]
    name = unique("flows-tc")
    await ThreatConnectCredentials(
        base_url=f"{tc.base_url}/api", access_id=tc.credentials["access_id"],
        secret_key=tc.credentials["secret_key"], default_owner=tc.credentials["default_owner"],
    ).save(name, overwrite=True)
    return name


def marked_tasks(lab: Lab, source: str) -> dict[str, Any]:
    """Marker -> ThreatConnect task for every task whose name carries a ``[<source>:...]`` marker.

    Fails the test on a duplicate: two ThreatConnect tasks for one source item.
    """
    found: dict[str, Any] = {}
    for task in lab["threatconnect"].backend.tasks.values():
        if task.name.startswith(f"[{source}:"):
            marker = task.name[1 : task.name.index("]")]
            assert marker not in found, f"duplicate ThreatConnect task for {marker}"
            found[marker] = task
    return found


async def run_artifacts(flow_run_id: UUID) -> dict[str, Any]:
    """Artifact key -> artifact created by one flow run."""
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return {a.key: a for a in artifacts if a.key}


def table_rows(artifact: Any) -> list[dict[str, Any]]:
    """The rows of a table artifact."""
    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(data, list)
    return data


async def latest_artifact(key: str) -> Any:
    """The newest artifact with ``key``."""
    async with get_client() as client:
        found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
    return max(found, key=lambda a: a.created)


async def events_since(
    name: str, since: datetime, *, expect: int, flow_runs: list[UUID] | None = None, timeout: float = 10.0
) -> list[Any]:
    """Events named ``name`` that occurred after ``since``, waiting until at least ``expect`` have arrived.

    Once enough are there, reads once more a moment later so late duplicates would show too.

    Args:
        name: Event name.
        since: Earliest occurrence.
        expect: How many to wait for.
        flow_runs: Keep only events emitted by these flow runs.
        timeout: Seconds to wait at most.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    settled = False
    while True:
        events = await _read_all_events(name, since)
        if flow_runs is not None:
            wanted = {f"prefect.flow-run.{run_id}" for run_id in flow_runs}
            events = [e for e in events if any(r.id in wanted for r in e.related)]
        if len(events) >= expect and settled:
            return events
        if len(events) >= expect:
            settled = True
        elif loop.time() > deadline:
            return events
        await asyncio.sleep(0.3)


async def _read_all_events(name: str, since: datetime) -> list[Any]:
    async with get_client() as client:
        page = await client.read_events(
            EventFilter(
                event=EventNameFilter(name=[name]),
                occurred=EventOccurredFilter(since=since),
            ),
            limit=50,
        )
        events = list(page.events)
        while page.next_page:
            page = await client.read_events_page(page.next_page)
            events.extend(page.events)
    return events
