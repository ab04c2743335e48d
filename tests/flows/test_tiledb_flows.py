"""The TileDB flows end to end against the lab: the SQL report, and failed tasks → ThreatConnect exactly once."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

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

from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.errors import APIStatusError, BadInputError, WaitTimeoutError
from prefect_soar.flows._tc_sink import AuditFailedError
from prefect_soar.flows.tiledb_audit import FAILURE_EVENT, tiledb_failed_tasks_to_threatconnect
from prefect_soar.flows.tiledb_report import tiledb_sql_report
from prefect_soar.flows.watermark import load_watermark
from prefect_soar.models.tiledb import UNSUCCESSFUL_STATUSES
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.threatconnect_records import BadRequest
from prefect_soar.simulators.tiledb_backend import TaskRecord, TileDBLabSettings

pytestmark = pytest.mark.usefixtures("prefect_harness")
LOOKBACK_HOURS = 24 * 10  # the lab's history: ten days


@pytest.fixture(scope="module")
def tiledb_tc_lab() -> Iterator[Lab]:
    settings = {"tiledb": TileDBLabSettings(completion_delay_seconds=0.05)}
    with Lab(services=["tiledb", "threatconnect"], settings=settings) as lab:
        yield lab


@pytest.fixture
async def blocks(tiledb_tc_lab: Lab) -> tuple[str, str]:
    """Fresh emulator state; a TileDB and a ThreatConnect block saved under unique names."""
    for name in ("tiledb", "threatconnect"):
        tiledb_tc_lab[name].server.control.reset()
    tiledb = tiledb_tc_lab["tiledb"]
    name = unique("flows-tiledb")
    await TileDBCredentials(
        base_url=f"{tiledb.base_url}/v1", api_key=SecretStr(tiledb.credentials["api_key"]),
        namespace=tiledb.credentials["namespace"],
    ).save(name, overwrite=True)
    return name, await save_threatconnect_block(tiledb_tc_lab)


def lab_failures(
    lab: Lab, statuses: frozenset[str] = frozenset({"FAILED"}), *, types: set[str] | None = None,
    namespace: str | None = None,
) -> dict[str, TaskRecord]:
    """TileDB task id -> record of the lab's tasks in these statuses now, oldest failure first."""
    backend = lab["tiledb"].backend
    now = backend.now()
    found = {
        r.id: r for r in backend.tasks.values()
        if r.status(now) in statuses and (types is None or r.type in types)
        and (namespace is None or r.namespace == namespace)
    }
    return dict(sorted(found.items(), key=lambda kv: (math.floor(kv[1].complete_at or kv[1].start), kv[0])))


async def audit(blocks: tuple[str, str], watermark: str, **kwargs: Any) -> Any:
    return await tiledb_failed_tasks_to_threatconnect(
        tiledb_block=blocks[0], threatconnect_block=blocks[1], first_run_lookback_hours=LOOKBACK_HOURS,
        watermark=watermark, **kwargs,
    )


def new_failed_task(lab: Lab, *, started_ago: float, fails_in: float, name: str) -> TaskRecord:
    """Add a task to the lab that is RUNNING now and FAILS ``fails_in`` seconds from now."""
    backend = lab["tiledb"].backend
    now = backend.now()
    record = TaskRecord(
        id=backend.new_id(), type="UDF", namespace="soc-lab", username="svc-soar", start=now - started_ago,
        final_status="FAILED", complete_at=now + fails_in, name=name, status_message="MemoryError: out of memory",
    )
    backend.tasks[record.id] = record
    return record


# -- failed tasks → ThreatConnect ------------------------------------------------------------


async def test_failed_tasks_become_one_complete_task_each(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    expected = lab_failures(tiledb_tc_lab, UNSUCCESSFUL_STATUSES)
    now = tiledb_tc_lab["tiledb"].backend.now()
    assert {r.status(now) for r in expected.values()} == set(UNSUCCESSFUL_STATUSES), "every kind of failure"
    started = datetime.now(UTC)
    watermark = unique("wm")
    state = await audit(blocks, watermark, include_other_failures=True, tags=["soc-lab"],
                        security_label="TLP:GREEN", page_size=3, return_state=True)
    summary = await state.result()

    assert summary["created"] == len(expected) and summary["pages"] == math.ceil(len(expected) / 3)
    tasks = marked_tasks(tiledb_tc_lab, "tiledb")
    assert set(tasks) == {f"tiledb:{i}" for i in expected}
    for task_id, record in expected.items():
        task = tasks[f"tiledb:{task_id}"]
        status = record.final_status
        assert {"tiledb", status, record.type, "soc-lab", f"ext:tiledb:{task_id}"} <= set(task.tags)
        assert task.labels == ["TLP:GREEN"]
        assert task.attribute_values("External ID") == [task_id]
        assert task.attribute_values("Source") == ["TileDB Cloud"]
        [text] = task.attribute_values("Description")
        assert f"task {task_id} ended {status}" in text and f"Namespace: {record.namespace}" in text
        assert f"Reason: {record.status_message}" in text and record.name in task.name
        [context] = task.attribute_values("Additional Analysis and Context")
        assert record.status_message in context

    mark = await load_watermark(watermark)
    last_id, last = list(expected.items())[-1]
    assert mark.processed == len(expected) and last_id in mark.boundary_ids
    assert mark.timestamp == datetime.fromtimestamp(math.floor(last.complete_at or 0), UTC)

    artifacts = await run_artifacts(state.state_details.flow_run_id)
    rows = table_rows(artifacts["tiledb-failed-tasks"])
    assert [r["tiledb_task_id"] for r in rows] == list(expected), "one row per failed task, oldest first"
    assert [r["tiledb_status"] for r in rows] == [r.final_status for r in expected.values()]
    assert all(r["status"] == "created" for r in rows)
    assert "watermark" in artifacts["tiledb-failed-tasks-summary"].data

    events = await events_since(FAILURE_EVENT, started, expect=len(expected),
                                flow_runs=[state.state_details.flow_run_id])
    assert sorted(e.resource.id for e in events) == sorted(f"tiledb.task.{i}" for i in expected)
    one = next(e for e in events if e.resource.id == f"tiledb.task.{last_id}")
    assert one.payload["status"] == last.final_status
    assert f"threatconnect.task.{tasks[f'tiledb:{last_id}'].id}" in {r.id for r in one.related}


async def test_filters_by_status_type_and_namespace(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    failed_sql = lab_failures(tiledb_tc_lab, types={"SQL"})
    summary = await audit(blocks, unique("wm"), task_types=["sql"])
    assert set(marked_tasks(tiledb_tc_lab, "tiledb")) == {f"tiledb:{i}" for i in failed_sql}
    assert summary["created"] == len(failed_sql) >= 2 and summary["ignored"] == 0, "one type: filtered by TileDB"

    tiledb_tc_lab["threatconnect"].server.control.reset()
    intel = lab_failures(tiledb_tc_lab, namespace="threat-intel")
    await audit(blocks, unique("wm"), namespace="threat-intel")
    assert set(marked_tasks(tiledb_tc_lab, "tiledb")) == {f"tiledb:{i}" for i in intel} and intel

    tiledb_tc_lab["threatconnect"].server.control.reset()
    several = lab_failures(tiledb_tc_lab, types={"UDF", "QUERY"})
    summary = await audit(blocks, unique("wm"), task_types=["UDF", "QUERY"])
    assert set(marked_tasks(tiledb_tc_lab, "tiledb")) == {f"tiledb:{i}" for i in several} and several
    assert summary["ignored"] == len(lab_failures(tiledb_tc_lab)) - len(several) > 0, "several: filtered here"


async def test_second_run_creates_nothing_and_late_failures_are_found(
    tiledb_tc_lab: Lab, blocks: tuple[str, str]
) -> None:
    watermark = unique("wm")
    first = await audit(blocks, watermark)
    before = marked_tasks(tiledb_tc_lab, "tiledb")
    assert first["created"] == len(before) == len(lab_failures(tiledb_tc_lab))
    mark = await load_watermark(watermark)
    assert mark.timestamp is not None
    # started long before the newest recorded failure, still running now, fails in a moment
    late = new_failed_task(tiledb_tc_lab, started_ago=datetime.now(UTC).timestamp() - mark.timestamp.timestamp()
                           + 3 * 3600, fails_in=30, name="long-udf")
    second = await audit(blocks, watermark)
    assert second["created"] == 0 and marked_tasks(tiledb_tc_lab, "tiledb").keys() == before.keys()

    tiledb_tc_lab["tiledb"].backend.advance(60)
    third = await audit(blocks, watermark)
    assert third["created"] == 1 and third["processed"] == 1
    assert set(marked_tasks(tiledb_tc_lab, "tiledb")) == set(before) | {f"tiledb:{late.id}"}
    fourth = await audit(blocks, watermark)
    assert fourth["created"] == fourth["processed"] == 0


async def test_fail_half_way_then_rerun_is_exactly_once(
    tiledb_tc_lab: Lab, blocks: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = lab_failures(tiledb_tc_lab, UNSUCCESSFUL_STATUSES)
    order = list(expected)
    refused = order[4]  # the 5th fails: the 1st page of 3 is covered, the 2nd stops before its 2nd item
    backend = tiledb_tc_lab["threatconnect"].backend
    create = backend.create_task

    def create_task(owner: Any, body: Any) -> Any:
        if f"[tiledb:{refused}]" in body.get("name", ""):
            raise BadRequest("lab: create refused")
        return create(owner, body)

    monkeypatch.setattr(backend, "create_task", create_task)
    watermark = unique("wm")
    started = datetime.now(UTC)
    failed = await audit(blocks, watermark, include_other_failures=True, page_size=3, return_state=True)
    assert failed.is_failed()
    with pytest.raises(AuditFailedError, match=r"1 tiledb item\(s\) could not be written"):
        await failed.result()
    mark = await load_watermark(watermark)
    assert mark.processed == 4 and order[3] in mark.boundary_ids, "covers the prefix before the failure"
    written = marked_tasks(tiledb_tc_lab, "tiledb")
    assert set(written) == {f"tiledb:{i}" for i in order[:6] if i != refused}, "the run stopped after that page"
    rows = table_rows((await run_artifacts(failed.state_details.flow_run_id))["tiledb-failed-tasks"])
    assert [r["status"][:6] for r in rows] == ["create"] * 4 + ["failed", "writte"]

    monkeypatch.setattr(backend, "create_task", create)
    rerun_state = await audit(blocks, watermark, include_other_failures=True, page_size=3, return_state=True)
    rerun = await rerun_state.result()
    tasks = marked_tasks(tiledb_tc_lab, "tiledb")
    assert set(tasks) == {f"tiledb:{i}" for i in expected}, "nothing skipped, nothing duplicated"
    assert all(f"ext:{marker}" in task.tags for marker, task in tasks.items())
    assert rerun["created"] == len(expected) - 5 and rerun["existing"] == 1
    assert (await load_watermark(watermark)).processed == len(expected)
    runs = [failed.state_details.flow_run_id, rerun_state.state_details.flow_run_id]
    events = await events_since(FAILURE_EVENT, started, expect=len(expected), flow_runs=runs)
    assert sorted(e.resource.id for e in events) == sorted(f"tiledb.task.{i}" for i in expected)


async def test_audit_rejects_bad_parameters(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    with pytest.raises(BadInputError, match="page_size"):
        await audit(blocks, unique("wm"), page_size=0)
    with pytest.raises(BadInputError, match="max_task_hours"):
        await audit(blocks, unique("wm"), max_task_hours=-1)


# -- SQL report -----------------------------------------------------------------------------------


async def test_report_publishes_rows_as_a_table(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    sql = "SELECT host, event_type, severity FROM security_events WHERE severity = 'critical'"
    backend = tiledb_tc_lab["tiledb"].backend
    expected = backend.sql.execute(sql)
    state = await tiledb_sql_report(sql=sql, tiledb_block=blocks[0], report_key="critical-events",
                                    return_state=True)
    summary = await state.result()

    assert summary["rows"] == summary["rows_shown"] == len(expected) > 0 and not summary["truncated"]
    assert summary["columns"] == ["host", "event_type", "severity"] and summary["namespace"] == "soc-lab"
    record = backend.tasks[summary["task_id"]]
    assert record.sql_query == sql and record.store_results and record.dont_download, "stored, not downloaded"
    assert record.namespace == "soc-lab", "the block's namespace by default"
    artifacts = await run_artifacts(state.state_details.flow_run_id)
    assert table_rows(artifacts["critical-events"]) == expected
    markdown = artifacts["critical-events-summary"].data
    assert summary["task_id"] in markdown and sql in markdown and f"rows: **{len(expected)}**" in markdown
    assert "first" not in markdown.split("## First")[0], "no truncation note"


async def test_report_cuts_the_table_and_says_so(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    state = await tiledb_sql_report(sql="SELECT * FROM security_events WHERE host = ?", parameters=["ws-fin-01"],
                                    tiledb_block=blocks[0], namespace="threat-intel", max_rows_shown=2,
                                    report_key=unique("cut"), return_state=True)
    summary = await state.result()
    total = len(tiledb_tc_lab["tiledb"].backend.sql.execute("SELECT * FROM security_events WHERE host = 'ws-fin-01'"))
    assert summary["rows"] == total > 2 and summary["rows_shown"] == 2 and summary["truncated"]
    assert tiledb_tc_lab["tiledb"].backend.tasks[summary["task_id"]].namespace == "threat-intel"
    artifacts = await run_artifacts(state.state_details.flow_run_id)
    rows = table_rows(artifacts[summary["artifact_key"]])
    assert len(rows) == 2 and all(r["host"] == "ws-fin-01" for r in rows)
    assert f"shows the first 2 of {total} rows" in artifacts[f"{summary['artifact_key']}-summary"].data


async def test_report_of_a_statement_without_rows(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    summary = await tiledb_sql_report(sql="CREATE TABLE scratch (a INT)", tiledb_block=blocks[0],
                                      report_key=unique("empty"))
    assert summary["rows"] == 0 and summary["columns"] == []


async def test_report_fails_with_the_query_error(tiledb_tc_lab: Lab, blocks: tuple[str, str]) -> None:
    with pytest.raises(APIStatusError, match="no such column today"):
        await tiledb_sql_report(sql="SELECT raise_error('no such column today')", tiledb_block=blocks[0])


async def test_report_waits_within_its_timeout(
    tiledb_tc_lab: Lab, blocks: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    polls: list[str] = []

    def never_ready(task_id: str) -> tuple[int, bytes, None]:
        polls.append(task_id)
        return 202, b"", None

    monkeypatch.setattr(tiledb_tc_lab["tiledb"].backend, "get_result", never_ready)
    with pytest.raises(WaitTimeoutError, match=r"not ready after 0\.5s"):
        await tiledb_sql_report(sql="SELECT 1 AS x", tiledb_block=blocks[0], timeout_seconds=0.5)
    assert len(polls) == 2 and len(set(polls)) == 1, "polled the one task until the timeout"


async def test_report_needs_a_namespace(tiledb_tc_lab: Lab) -> None:
    tiledb = tiledb_tc_lab["tiledb"]
    name = unique("flows-tiledb-nons")
    await TileDBCredentials(base_url=f"{tiledb.base_url}/v1", api_key=SecretStr(tiledb.credentials["api_key"])).save(
        name, overwrite=True
    )
    with pytest.raises(BadInputError, match="no namespace"):
        await tiledb_sql_report(sql="SELECT 1 AS x", tiledb_block=name)
    with pytest.raises(BadInputError, match="report_key"):
        await tiledb_sql_report(sql="SELECT 1 AS x", tiledb_block=name, report_key="Not A Key")


def test_flow_parameters_render_as_forms() -> None:
    for fl, wanted in (
        (tiledb_sql_report, {"sql", "tiledb_block", "namespace", "timeout_seconds", "max_rows_shown"}),
        (tiledb_failed_tasks_to_threatconnect, {"tiledb_block", "threatconnect_block", "include_other_failures"}),
    ):
        schema = fl.parameters
        assert wanted <= set(schema.properties)
        assert all(prop.get("description") for prop in schema.properties.values())
