"""The TileDB Prefect tasks inside a flow, against the lab over loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prefect import flow
from prefect.states import Failed

from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.errors import AuthenticationError, BadInputError, ServerError, TransportError
from prefect_soar.models.tiledb import ArrayTask, ArrayTaskData, SQLResult, TaskResult
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS
from prefect_soar.tasks import tiledb as tasks


@pytest.fixture
def creds(tiledb_lab) -> TileDBCredentials:
    return TileDBCredentials(base_url=f"{tiledb_lab.base_url}/v1", **LAB_CREDENTIALS)


async def test_sql_report_and_failed_task_audit_in_one_flow(prefect_harness, creds, backend):
    week_ago = datetime.now(UTC) - timedelta(days=7)

    @flow
    async def tiledb_report() -> dict:
        submitted = await tasks.run_sql(
            creds, "SELECT host, severity FROM security_events WHERE severity = ? LIMIT 5",
            parameters=["high"], name="prefect-report", store_results=True,
        )
        result = await tasks.wait_for_result(creds, submitted.task_id, timeout_seconds=10, poll_seconds=0.05)
        task = await tasks.get_task(creds, submitted.task_id)
        stored = await tasks.get_task_result(creds, submitted.task_id)
        page = await tasks.list_tasks(creds, status="FAILED", start=week_ago, per_page=2)
        failed = await tasks.list_all(creds, status="FAILED", start=week_ago, per_page=2, exclude_type=["QUERY"])
        return {"submitted": submitted, "result": result, "task": task, "stored": stored, "page": page,
                "failed": failed}

    out = await tiledb_report()
    assert isinstance(out["submitted"], SQLResult) and len(out["submitted"].rows) == 5
    assert {row["severity"] for row in out["submitted"].rows} == {"high"}
    assert isinstance(out["result"], TaskResult) and out["result"].rows == out["submitted"].rows
    assert isinstance(out["task"], ArrayTask) and out["task"].name == "prefect-report"
    assert out["task"].namespace == LAB_CREDENTIALS["namespace"], "the block's namespace is the default"
    assert out["stored"].status == "ready"
    assert isinstance(out["page"], ArrayTaskData) and len(out["page"].array_tasks) == 2
    assert out["page"].pagination_metadata.total_items == 5
    assert [t.status for t in out["failed"]] == ["FAILED"] * 4
    assert all(t.type != "QUERY" for t in out["failed"])
    assert backend.tasks[out["task"].id].sql_parameters == ["high"]


async def test_run_sql_needs_a_namespace_somewhere(prefect_harness, tiledb_lab):
    creds = TileDBCredentials(base_url=f"{tiledb_lab.base_url}/v1", api_key=LAB_CREDENTIALS["api_key"])

    @flow
    async def no_namespace():
        return await tasks.run_sql(creds, "select 1", return_state=True)

    state = await no_namespace(return_state=True)
    assert state.is_failed()
    with pytest.raises(BadInputError, match="namespace"):
        await state.result()


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (TransportError("reset", service="tiledb"), True),
        (ServerError("bad gateway", service="tiledb", status=502), True),
        (AuthenticationError("no", service="tiledb", status=401), False),
        (BadInputError("bad", service="tiledb"), False),
    ],
)
def test_only_transient_failures_are_retried(error, retried):
    assert tasks._transient(None, None, Failed(data=error)) is retried
