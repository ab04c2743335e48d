"""What a finished sandbox triage must leave behind, computed independently of the flow, and its check.

Shared by the chaos and crash-and-resume tests: the expected sandbox tasks are read from the
PT Sandbox emulator over HTTP *before* faults are switched on (the flow's own code is not used
to compute them), and the ThreatConnect state is read straight from the emulator's backend.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.flows.sandbox_triage import build_query
from prefect_soar.flows.watermark import Watermark, as_utc
from prefect_soar.simulators.lab import Lab

LOOKBACK_HOURS = 24 * 40
"""Longer than the PT Sandbox lab's 30-day spread of seeded tasks, so ``query=""`` matches them all."""
ATTRIBUTE_TYPES = Counter({"Description": 1, "Source": 1, "External ID": 1})


@dataclass(frozen=True)
class Expected:
    """One sandbox task the triage must record."""

    scan_id: str
    verdict: str
    classification: str
    start: datetime

    @property
    def marker(self) -> str:
        return f"ptsandbox:{self.scan_id}"

    def tags(self) -> set[str]:
        tags = {"pt-sandbox", self.verdict, f"ext:{self.marker}"}
        if self.classification != "UNKNOWN":
            tags.add(self.classification)
        return tags


async def expected_tasks(lab: Lab, query: str = "") -> dict[str, Expected]:
    """Sandbox task id -> what the triage must record, for every task ``query`` matches (faults must be off)."""
    pt = lab["ptsandbox"]
    since = datetime.now(UTC) - timedelta(hours=LOOKBACK_HOURS)
    found: dict[str, Expected] = {}
    async with PTSandboxClient(pt.base_url, login=pt.credentials["login"], password=pt.credentials["password"]) as c:
        async for task in c.iter_tasks(build_query(query, since), page_size=200):
            correlation = task.correlation
            found[str(task.id)] = Expected(
                scan_id=str(task.id),
                verdict=str(correlation.threat_level) if correlation else "UNKNOWN",
                classification=str(correlation.threat_classification) if correlation else "UNKNOWN",
                start=as_utc(task.start or datetime.now(UTC)),
            )
    return found


def triage_tasks(lab: Lab) -> dict[str, Any]:
    """Marker -> ThreatConnect task of every triage task in the emulator; fails on a duplicate marker."""
    found: dict[str, Any] = {}
    for task in list(lab["threatconnect"].backend.tasks.values()):
        if task.name.startswith("[ptsandbox:"):
            marker = task.name[1 : task.name.index("]")]
            assert marker not in found, f"duplicate ThreatConnect tasks {found[marker].id} and {task.id} for {marker}"
            found[marker] = task
    return found


def assert_complete(lab: Lab, expected: dict[str, Expected], mark: Watermark) -> None:
    """Exactly one complete ThreatConnect task per expected sandbox task, and the watermark at the newest."""
    tasks = triage_tasks(lab)
    assert set(tasks) == {e.marker for e in expected.values()}, (
        f"{len(tasks)} ThreatConnect task(s) for {len(expected)} sandbox task(s): "
        f"missing {sorted({e.marker for e in expected.values()} - set(tasks))[:3]}, "
        f"extra {sorted(set(tasks) - {e.marker for e in expected.values()})[:3]}"
    )
    backend = lab["threatconnect"].backend
    assert len(backend.tasks) == backend.settings.seed_tasks + len(expected), "no stray ThreatConnect task"
    indicators = backend.indicators
    for item in expected.values():
        task = tasks[item.marker]
        assert set(task.tags) == item.tags(), f"{item.marker}: tags {task.tags}"
        assert len(task.tags) == len(set(task.tags)), f"{item.marker}: repeated tags {task.tags}"
        assert Counter(a.type for a in task.attributes.values()) == ATTRIBUTE_TYPES, (
            f"{item.marker}: attributes {[(a.type, a.value[:40]) for a in task.attributes.values()]}"
        )
        assert task.attribute_values("External ID") == [item.scan_id]
        assert task.attribute_values("Source") == ["PT Sandbox"]
        [description] = task.attribute_values("Description")
        assert f"verdict: {item.verdict}" in description and f"/tasks/{item.scan_id}" in description
        assert len(task.indicators) == len(set(task.indicators)), f"{item.marker}: repeated associations"
        assert any(indicators[i].kind.branch == "files" for i in task.indicators), f"{item.marker}: no File indicator"
    newest = max(e.start for e in expected.values())
    assert mark.timestamp == newest, f"watermark at {mark.timestamp}, newest sandbox task at {newest}"
    assert {e.scan_id for e in expected.values() if e.start == newest} <= set(mark.boundary_ids)
    assert mark.processed == len(expected)
