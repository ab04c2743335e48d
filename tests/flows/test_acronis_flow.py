"""The Acronis failures → ThreatConnect flow, end to end against the lab, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from _acronis_tiledb_fixtures import (
    events_since,
    marked_tasks,
    run_artifacts,
    save_threatconnect_block,
    table_rows,
    unique,
)
from pydantic import SecretStr

from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.errors import BadInputError
from prefect_soar.flows._tc_sink import AuditFailedError
from prefect_soar.flows.acronis_failures import (
    FAILURE_EVENT,
    acronis_failures_to_threatconnect,
    build_query,
    task_spec,
)
from prefect_soar.flows.watermark import load_watermark
from prefect_soar.models.acronis import Task
from prefect_soar.simulators.acronis import AcronisLabSettings
from prefect_soar.simulators.acronis_data import SECOND
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.threatconnect_records import BadRequest

pytestmark = pytest.mark.usefixtures("prefect_harness")
LOOKBACK_HOURS = 24 * 30  # the lab's history is 14 days: the first run sees all of it


@pytest.fixture(scope="module")
def acronis_tc_lab() -> Iterator[Lab]:
    """Acronis (clock frozen at start, so nothing completes unless a test moves it) and ThreatConnect."""
    frozen = datetime.now(UTC).replace(microsecond=0)
    with Lab(services=["acronis", "threatconnect"], settings={"acronis": AcronisLabSettings(now=frozen)}) as lab:
        yield lab


@pytest.fixture
async def blocks(acronis_tc_lab: Lab) -> tuple[str, str]:
    """Fresh emulator state; an Acronis and a ThreatConnect block saved under unique names."""
    for name in ("acronis", "threatconnect"):
        acronis_tc_lab[name].server.control.reset()
    acronis = acronis_tc_lab["acronis"]
    name = unique("flows-acronis")
    await AcronisCredentials(
        base_url=acronis.base_url, client_id=acronis.credentials["client_id"],
        client_secret=SecretStr(acronis.credentials["client_secret"]),
    ).save(name, overwrite=True)
    return name, await save_threatconnect_block(acronis_tc_lab)


def lab_failures(lab: Lab, codes: tuple[str, ...] = ("error",), types: set[str] | None = None) -> dict[str, Any]:
    """Acronis task id -> its snapshot, for completed tasks with these result codes, read from the emulator's state."""
    backend = lab["acronis"].backend
    now = backend.now_ns()
    out = {}
    for task in backend.tasks:
        if not task.visible(now) or task.deleted:
            continue
        view = task.snapshot(now)
        if view["state"] == "completed" and view["result"]["code"] in codes and (types is None or task.type in types):
            out[str(task.id)] = view
    return dict(sorted(out.items(), key=lambda kv: (kv[1]["completedAt"], kv[0])))


async def run(blocks: tuple[str, str], watermark: str, **kwargs: Any) -> Any:
    return await acronis_failures_to_threatconnect(
        acronis_block=blocks[0], threatconnect_block=blocks[1], first_run_lookback_hours=LOOKBACK_HOURS,
        watermark=watermark, **kwargs,
    )


async def test_failures_become_one_complete_task_each(acronis_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    expected = lab_failures(acronis_tc_lab)
    assert len(expected) > 20, "the lab should hold enough failed tasks for several pages"
    started = datetime.now(UTC)
    watermark = unique("wm")
    state = await run(blocks, watermark, tags=["soc-lab"], security_label="TLP:AMBER", page_size=10,
                      return_state=True)
    summary = await state.result()

    assert summary["created"] == summary["processed"] == len(expected) and summary["failed"] == 0
    assert summary["pages"] >= 3
    tasks = marked_tasks(acronis_tc_lab, "acronis")
    assert set(tasks) == {f"acronis:{task_id}" for task_id in expected}
    for task_id, view in expected.items():
        task = tasks[f"acronis:{task_id}"]
        assert {"acronis", "error", view["type"], "soc-lab", f"ext:acronis:{task_id}"} <= set(task.tags)
        assert task.labels == ["TLP:AMBER"]
        assert task.attribute_values("External ID") == [task_id]
        assert task.attribute_values("Source") == ["Acronis Cyber Protect Cloud"]
        [text] = task.attribute_values("Description")
        assert f"task {task_id} completed with result 'error'" in text
        if "resource" in view:
            assert view["resource"]["name"] in text and view["resource"]["name"] in task.name
        if "policy" in view:
            assert f"Policy: {view['policy']['name']}" in text
        reason = view["result"]["error"].get("reason") or view["result"]["error"]["message"]
        assert f"Error: {reason}" in text
        [details] = task.attribute_values("Additional Analysis and Context")
        assert view["result"]["error"]["message"] in details
    assert sorted(summary["threatconnect_task_ids"]) == sorted(t.id for t in tasks.values())

    last_id, last = list(expected.items())[-1]
    mark = await load_watermark(watermark)
    assert mark.processed == len(expected) and last_id in mark.boundary_ids
    assert mark.timestamp == _microseconds(last["completedAt"]), "the newest completedAt, truncated to µs"

    artifacts = await run_artifacts(state.state_details.flow_run_id)
    rows = table_rows(artifacts["acronis-failures"])
    assert [r["acronis_task_id"] for r in rows] == list(expected), "one row per task, oldest first"
    assert all(r["status"] == "created" and r["threatconnect_task_id"] for r in rows)
    assert f"created: **{len(expected)}**" in artifacts["acronis-failures-summary"].data

    events = await events_since(
        FAILURE_EVENT, started, expect=len(expected), flow_runs=[state.state_details.flow_run_id]
    )
    by_resource = {e.resource.id: e for e in events}
    assert set(by_resource) == {f"acronis.task.{task_id}" for task_id in expected}
    one = by_resource[f"acronis.task.{last_id}"]
    tc_id = tasks[f"acronis:{last_id}"].id
    assert [r.id for r in one.related if r.id.startswith("threatconnect.")] == [f"threatconnect.task.{tc_id}"]
    assert any(r.role == "flow-run" for r in one.related), "Prefect links the event to the flow run"
    assert one.payload["result_code"] == "error" and one.payload["threatconnect_task_id"] == tc_id


def _microseconds(ns: int) -> datetime:
    seconds, rest = divmod(ns, SECOND)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


async def test_second_run_creates_nothing_and_new_failures_come_next(
    acronis_tc_lab: Lab, blocks: tuple[str, str]
) -> None:
    watermark = unique("wm")
    first = await run(blocks, watermark)
    before = marked_tasks(acronis_tc_lab, "acronis")
    second = await run(blocks, watermark)
    assert first["created"] == len(before) > 0
    assert second["fetched"] <= 1, "the second run reads from the watermark: at most the boundary item again"
    assert second["processed"] == second["created"] == 0
    assert marked_tasks(acronis_tc_lab, "acronis").keys() == before.keys()

    known = set(lab_failures(acronis_tc_lab))
    async with httpx.AsyncClient(base_url=acronis_tc_lab["acronis"].base_url) as lab_api:
        (await lab_api.post("/_lab/clock", json={"advance_seconds": 2 * 3600})).raise_for_status()
    new = set(lab_failures(acronis_tc_lab)) - known
    assert new, "moving the lab clock completes tasks, some of them failed"
    third = await run(blocks, watermark)
    assert third["created"] == len(new) and third["existing"] == 0
    assert set(marked_tasks(acronis_tc_lab, "acronis")) == {f"acronis:{i}" for i in known | new}


async def test_warnings_and_task_type_filters(acronis_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    backups = lab_failures(acronis_tc_lab, ("error", "warning"), {"backup"})
    summary = await run(blocks, unique("wm"), include_warnings=True, task_types=["backup"])
    tasks = marked_tasks(acronis_tc_lab, "acronis")
    assert set(tasks) == {f"acronis:{i}" for i in backups} and summary["ignored"] == 0
    assert {code for v in backups.values() for code in [v["result"]["code"]]} == {"error", "warning"}
    for task_id, view in backups.items():
        assert {"backup", view["result"]["code"]} <= set(tasks[f"acronis:{task_id}"].tags)

    acronis_tc_lab["threatconnect"].server.control.reset()
    wanted = {"backup", "recovery"}
    several = lab_failures(acronis_tc_lab, ("error",), wanted)
    summary = await run(blocks, unique("wm"), task_types=["Backup", "recovery"], page_size=20)
    assert set(marked_tasks(acronis_tc_lab, "acronis")) == {f"acronis:{i}" for i in several}
    assert summary["ignored"] == len(lab_failures(acronis_tc_lab)) - len(several) > 0, "other types are left out"


async def test_cap_per_run_leaves_the_rest_for_the_next_run(acronis_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    expected = lab_failures(acronis_tc_lab)
    watermark = unique("wm")
    first = await run(blocks, watermark, max_items=5, page_size=3)
    assert first["created"] == 5 and first["capped"]
    oldest = list(expected)[:5]
    assert set(marked_tasks(acronis_tc_lab, "acronis")) == {f"acronis:{i}" for i in oldest}, "oldest first"
    mark = await load_watermark(watermark)
    assert mark.processed == 5 and mark.boundary_ids == [oldest[-1]]
    second = await run(blocks, watermark, max_items=1000)
    assert second["created"] == len(expected) - 5 and second["existing"] == 0
    assert set(marked_tasks(acronis_tc_lab, "acronis")) == {f"acronis:{i}" for i in expected}


async def test_fail_half_way_then_rerun_is_exactly_once(
    acronis_tc_lab: Lab, blocks: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = lab_failures(acronis_tc_lab)
    order = list(expected)
    half_built, refused = order[3], order[7]  # the 4th loses an attribute, the 8th cannot be created
    backend = acronis_tc_lab["threatconnect"].backend
    create, add_attribute = backend.create_task, backend.add_attribute

    def create_task(owner: Any, body: Any) -> Any:
        if f"[acronis:{refused}]" in body.get("name", ""):
            raise BadRequest("lab: create refused")
        return create(owner, body)

    def add_attr(task: Any, body: Any) -> Any:
        if f"[acronis:{half_built}]" in task.name and body.get("type") == "Source":
            raise BadRequest("lab: attribute refused")
        return add_attribute(task, body)

    monkeypatch.setattr(backend, "create_task", create_task)
    monkeypatch.setattr(backend, "add_attribute", add_attr)
    watermark = unique("wm")
    started = datetime.now(UTC)
    failed = await run(blocks, watermark, page_size=100, concurrency=4, return_state=True)
    assert failed.is_failed()
    with pytest.raises(AuditFailedError, match=r"2 acronis item\(s\) could not be written to ThreatConnect"):
        await failed.result()

    mark = await load_watermark(watermark)
    assert mark.processed == 3 and mark.boundary_ids == [order[2]], "covers only the prefix before the 1st failure"
    written = marked_tasks(acronis_tc_lab, "acronis")
    assert f"acronis:{refused}" not in written and f"acronis:{half_built}" in written
    assert f"ext:acronis:{half_built}" not in written[f"acronis:{half_built}"].tags, "left half-built, unmarked"
    assert len(written) == len(expected) - 1, "the other items of the page were written meanwhile"

    monkeypatch.setattr(backend, "create_task", create)
    monkeypatch.setattr(backend, "add_attribute", add_attribute)
    rerun_state = await run(blocks, watermark, page_size=100, concurrency=4, return_state=True)
    rerun = await rerun_state.result()
    tasks = marked_tasks(acronis_tc_lab, "acronis")
    assert set(tasks) == {f"acronis:{i}" for i in expected}, "nothing skipped, nothing duplicated"
    assert all(f"ext:{marker}" in task.tags for marker, task in tasks.items()), "every task is complete"
    fixed = tasks[f"acronis:{half_built}"]
    assert fixed.id == written[f"acronis:{half_built}"].id
    assert len(fixed.attribute_values("Description")) == 1 and fixed.attribute_values("Source")
    assert rerun["created"] == 1 and rerun["existing"] == len(expected) - 4
    mark = await load_watermark(watermark)
    assert mark.processed == len(expected) and mark.boundary_ids == [order[-1]]

    runs = [failed.state_details.flow_run_id, rerun_state.state_details.flow_run_id]
    events = await events_since(FAILURE_EVENT, started, expect=len(expected), flow_runs=runs)
    resources = [e.resource.id for e in events]
    assert sorted(resources) == sorted(f"acronis.task.{i}" for i in expected), "one event per failure, across runs"


async def test_bad_parameters_fail_before_anything_is_read(acronis_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    stats = acronis_tc_lab["acronis"].server.control.stats
    stats.clear()
    with pytest.raises(BadInputError, match="concurrency"):
        await run(blocks, unique("wm"), concurrency=0)
    with pytest.raises(BadInputError, match="no saved AcronisCredentials block named 'nope'"):
        await acronis_failures_to_threatconnect(acronis_block="nope", threatconnect_block=blocks[1])
    assert sum(stats.values()) == 0


def test_query_reads_completed_failures_oldest_first() -> None:
    since = datetime(2026, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)
    query = build_query(since, include_warnings=True, task_types=["backup"])
    assert query.to_params() == [
        ("state", "completed"), ("resultCode", "error"), ("resultCode", "warning"), ("type", "backup"),
        ("completedAt", "ge(2026-03-01T08:00:00.250000Z)"), ("order", "asc(completedAt)"), ("lod", "full"),
    ]
    several = build_query(since, include_warnings=False, task_types=["backup", "recovery"])
    assert ("type", "backup") not in several.to_params() and ("resultCode", "warning") not in several.to_params()


def test_legacy_task_without_resource_or_policy() -> None:
    task = Task.model_validate({
        "id": 944455285181775873, "idString": "944455285181775873", "type": "A59E8BF2-39C3-42C4-B667-CB672381A214",
        "state": "completed", "completedAt": "2026-03-01T08:00:00.123456789Z",
        "result": {"code": "error"}, "error": {"code": "AgentOffline", "message": "The agent is offline."},
    })
    spec = task_spec(task, tags=["x", "X", " "], security_label=None)
    assert spec.marker == "acronis:944455285181775873"
    assert spec.tags == ["acronis", "error", "A59E8BF2-39C3-42C4-B667-CB672381A214", "x"]
    [description] = [a.value for a in spec.attributes if a.type == "Description"]
    assert "Resource: -" in description and "Error: The agent is offline." in description
    assert spec.security_labels == []


def test_flow_parameters_render_as_a_form() -> None:
    schema = acronis_failures_to_threatconnect.parameters
    assert {"acronis_block", "threatconnect_block", "include_warnings", "task_types", "max_items"} <= set(
        schema.properties
    )
    assert all(prop.get("description") for prop in schema.properties.values())
