"""TileDB wire models: exact names, soft enums, missing or null lists, whole numbers sent as floats."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prefect_soar.models.tiledb import (
    TERMINAL_STATUSES,
    ArrayTask,
    ArrayTaskData,
    ArrayTaskStatus,
    ArrayTaskType,
    ResultFormat,
    SQLParameters,
    TaskResult,
)


def test_array_task_data_tolerates_floats_and_a_missing_list():
    data = ArrayTaskData.model_validate(
        {"pagination_metadata": {"page": 1.0, "per_page": 10.0, "total_pages": 14.0, "total_items": 138.0}}
    )
    assert data.array_tasks == []
    meta = data.pagination_metadata
    assert meta is not None
    assert (meta.page, meta.per_page, meta.total_pages, meta.total_items) == (1, 10, 14, 138)
    assert all(isinstance(v, int) for v in (meta.page, meta.per_page, meta.total_pages, meta.total_items))
    assert ArrayTaskData.model_validate({"array_tasks": None}).array_tasks == []


def test_fractional_counts_are_rejected():
    with pytest.raises(ValidationError):
        ArrayTaskData.model_validate({"pagination_metadata": {"page": 1.5}})


def test_reference_example_task_parses_with_exact_names():
    task = ArrayTask.model_validate(
        {
            "id": "5c5d8f2e-3b7a-4a55-9d0e-8b1f2a6c7d90", "name": "subarray-multiplier", "username": "demo",
            "namespace": "organization1", "status": "COMPLETED", "status_message": None,
            "start_time": "2019-08-24T14:15:22Z", "finish_time": "2019-08-24T14:15:29Z", "memory": 1073741824,
            "cpu": 4000, "cost": 0.12, "egress_cost": 0.0, "access_cost": 0.0, "type": "SQL",
            "sql_query": "select sum(a) as sum from `tiledb://TileDB-Inc/quickstart_sparse`",
            "sql_init_commands": [], "sql_parameters": [], "result_format": "json", "duration": 7000000000,
            "logs": "", "cloud_provider": "AWS", "cloud_region": "us-east-1",
            "activity": [{"event_at": "2019-08-24T14:15:23Z", "action": "query_read", "username": "demo",
                          "bytes_sent": 1024, "bytes_received": 0, "array_task_id": "5c5d8f2e",
                          "id": "00000000-0000-0000-0000-000000000000"}],
            "subarray": [{"Dim1": {"Int64": "0 10"}}],
        }
    )
    assert task.succeeded and task.is_terminal
    assert task.status == ArrayTaskStatus.COMPLETED and task.type == ArrayTaskType.SQL
    assert task.result_format == ResultFormat.JSON
    assert task.duration_seconds == 7.0
    assert task.activity[0].bytes_sent == 1024 and task.activity[0].action == "query_read"
    assert task.start_time is not None and task.start_time.tzinfo is not None
    assert task.subarray == [{"Dim1": {"Int64": "0 10"}}]


def test_unknown_enum_values_are_kept():
    task = ArrayTask.model_validate({"status": "PAUSED_BY_ADMIN", "type": "NEW_KIND", "result_format": "parquet"})
    assert (task.status, task.type, task.result_format) == ("PAUSED_BY_ADMIN", "NEW_KIND", "parquet")
    assert not task.is_terminal


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("COMPLETED", True), ("FAILED", True), ("CANCELLED", True), ("RESOURCES_UNAVAILABLE", True), ("DENIED", True),
     ("QUEUED", False), ("RUNNING", False), ("UNKNOWN", False)],
)
def test_terminal_statuses(status, terminal):
    assert (status in TERMINAL_STATUSES) is terminal
    assert ArrayTask(status=status).is_terminal is terminal


def test_sql_parameters_send_only_what_is_set():
    params = SQLParameters(query="select 1", store_results=False, parameters=[None, 1, "a"])
    assert params.to_wire() == {"query": "select 1", "store_results": False, "parameters": [None, 1, "a"]}


def test_task_result_rows_only_for_arrays_of_objects():
    assert TaskResult(task_id="t", status="ready", value=[{"a": 1}]).rows == [{"a": 1}]
    assert TaskResult(task_id="t", status="ready", value={"a": 1}).rows is None
    assert TaskResult(task_id="t", status="running").ready is False
    with pytest.raises(ValidationError):
        TaskResult(task_id="t", status="done")
