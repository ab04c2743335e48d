"""The real TileDBClient against the TileDB lab over loopback HTTP (every exchange checked against the spec)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from prefect_soar.clients.tiledb import TileDBClient, TileDBTaskFailedError
from prefect_soar.errors import AuthenticationError, BadRequestError, NotFoundError, WaitTimeoutError
from prefect_soar.models.tiledb import ArrayTaskStatus, SQLParameters
from prefect_soar.simulators._lab import FaultConfig
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS

from .conftest import FAST

QUERY = "SELECT event_id, host, event_type FROM security_events WHERE event_type = 'malware_detected' LIMIT 4"


async def test_run_sql_then_read_task_and_stored_result(lab_client):
    answer = await lab_client.run_sql(
        "soc-lab", SQLParameters(name="malware", query=QUERY, result_format="json", store_results=True)
    )
    assert answer.status_code == 200 and answer.task_id
    assert answer.rows and len(answer.rows) == 4 and {r["event_type"] for r in answer.rows} == {"malware_detected"}
    task = await lab_client.task_id_get(answer.task_id)
    assert task.status == ArrayTaskStatus.COMPLETED and task.name == "malware" and task.sql_query == QUERY
    assert task.duration_seconds is not None and task.duration_seconds >= 0.09
    stored = await lab_client.task_id_result_get(answer.task_id)
    assert stored.status == "ready" and stored.rows == answer.rows


async def test_result_202_then_200_while_the_query_runs(lab_client, backend):
    backend.settings.completion_delay_seconds = 1.0
    submitted = asyncio.create_task(
        lab_client.run_sql("soc-lab", SQLParameters(name="slow-hunt", query=QUERY, store_results=True))
    )
    await asyncio.sleep(0.2)
    running = await lab_client.tasks_get(status="RUNNING", type="SQL", search="slow-hunt")
    assert [t.name for t in running.array_tasks] == ["slow-hunt"]
    task_id = running.array_tasks[0].id
    assert task_id is not None
    first = await lab_client.task_id_result_get(task_id)
    assert first.status == "running"
    ready = await lab_client.wait_for_result(task_id, timeout=5, poll=0.05)
    assert ready.status == "ready"
    answer = await submitted
    assert answer.task_id == task_id and ready.rows == answer.rows
    assert (await lab_client.wait_for_task(task_id, timeout=2, poll=0.05)).succeeded


async def test_expired_result_is_missing_then_not_found(lab_client, backend):
    answer = await lab_client.run_sql("soc-lab", SQLParameters(query="select 1 as x", store_results=True))
    assert answer.task_id is not None
    backend.advance(backend.settings.result_ttl_seconds + 1)
    missing = await lab_client.task_id_result_get(answer.task_id)
    assert missing.status == "missing" and "expired" in (missing.message or "")
    with pytest.raises(NotFoundError, match="expired"):
        await lab_client.wait_for_result(answer.task_id, timeout=1, poll=0.01)


async def test_failed_query_error_carries_the_task_id(lab_client):
    with pytest.raises(BadRequestError) as caught:
        await lab_client.run_sql("soc-lab", SQLParameters(query="select raise_error('disk quota')", store_results=True))
    task_id = caught.value.task_id  # type: ignore[attr-defined]
    assert "disk quota" in str(caught.value)
    task = await lab_client.task_id_get(task_id)
    assert task.status == "FAILED" and task.status_message == "disk quota"
    with pytest.raises(TileDBTaskFailedError) as failed:
        await lab_client.wait_for_result(task_id, timeout=1, poll=0.01)
    assert failed.value.task_status == "FAILED"


async def test_no_rows_is_204(lab_client):
    answer = await lab_client.run_sql("soc-lab", "INSERT INTO hosts VALUES ('x')")
    assert (answer.status_code, answer.rows) == (204, None) and answer.task_id


async def test_wait_for_result_times_out_on_a_long_task(lab_client, backend):
    sweep = next(r for r in backend.tasks.values() if r.name == "nightly-ioc-sweep" and r.pending_status == "RUNNING")
    with pytest.raises(WaitTimeoutError):
        await lab_client.wait_for_result(sweep.id, timeout=0.2, poll=0.05)


async def test_iter_tasks_collects_everything_once(lab_client, backend):
    start = datetime.now(UTC) - timedelta(days=30)
    tasks = [t async for t in lab_client.iter_tasks(start=start, per_page=7)]
    assert len(tasks) == len(backend.tasks) == len({t.id for t in tasks})
    failed = await lab_client.list_all_tasks(start=start, status="FAILED", per_page=2)
    assert len(failed) == 5 and all(t.status == "FAILED" for t in failed)
    capped = [t async for t in lab_client.iter_tasks(start=start, per_page=5, max_items=12)]
    assert len(capped) == 12


async def test_every_filter_through_the_client(lab_client):
    start = datetime.now(UTC) - timedelta(days=30)
    page = await lab_client.tasks_get(
        namespace="soc-lab", created_by="svc-soar", array="netflow_2025", start=start, end=datetime.now(UTC),
        page=1, per_page=10, type="QUERY", exclude_type=["SQL", "UDF"], file_type=None,
        exclude_file_type=["notebook"], status="COMPLETED", search="netflow", orderby="start_time desc",
    )
    assert [(t.name, t.query_type) for t in page.array_tasks] == [("write-netflow", "WRITE")]
    assert page.pagination_metadata is not None and page.pagination_metadata.total_items == 1
    notebooks = await lab_client.tasks_get(start=start, file_type=["notebook"])
    assert [t.array_metadata["file_type"] for t in notebooks.array_tasks if t.array_metadata] == ["notebook"]
    empty = await lab_client.tasks_get(search="no-such-task")
    assert empty.array_tasks == [] and empty.pagination_metadata is not None
    assert empty.pagination_metadata.total_items == 0


async def test_reads_ride_through_injected_faults(lab_client, tiledb_lab):
    tiledb_lab.control.set_faults(FaultConfig(errors={503: 0.4}, retry_after_seconds=0, seed=3))
    for _ in range(5):
        assert (await lab_client.tasks_get(per_page=1)).pagination_metadata is not None
    assert tiledb_lab.control.stats["injected_503"] > 0


async def test_basic_auth_and_rejected_key(tiledb_lab):
    url = f"{tiledb_lab.base_url}/v1"
    async with TileDBClient(
        url, username=LAB_CREDENTIALS["username"], password=LAB_CREDENTIALS["password"], retry=FAST
    ) as basic:
        await basic.check_connection()
    async with TileDBClient(url, api_key="not-the-lab-key", retry=FAST) as wrong:
        with pytest.raises(AuthenticationError):
            await wrong.check_connection()
