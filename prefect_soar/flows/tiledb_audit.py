"""TileDB failed tasks → ThreatConnect: audit failed TileDB Cloud tasks into ThreatConnect Tasks, exactly once.

TileDB lists tasks by *start* time (``start``/``end``, last 7 days by default), while a task
fails at its *finish* time. So the watermark is kept on the finish time (the start time when a
failed task has none), and each run lists tasks started from ``watermark - max_task_hours`` on,
so a long task that fails after newer ones were recorded is still found. Each failure status is
listed in one task run, the items are sorted oldest first and written ``page_size`` at a time
(one ``upsert_tasks`` run per page), marker ``tiledb:<task id>``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.errors import BadInputError
from prefect_soar.flows._common import load_block, publish_summary
from prefect_soar.flows._tc_sink import (
    AuditReport,
    SourceItem,
    check_run_options,
    clean_tags,
    plan_page,
    raise_for_failures,
    sink_page,
    task_name,
)
from prefect_soar.flows.watermark import as_utc, load_watermark
from prefect_soar.models.threatconnect import AttributeSpec, TaskSpec
from prefect_soar.models.tiledb import UNSUCCESSFUL_STATUSES, ArrayTask, ArrayTaskStatus
from prefect_soar.tasks.tiledb import list_all

FAILURE_EVENT = "prefect-soar.tiledb.failure"
SOURCE = "TileDB Cloud"
ARTIFACT_KEY = "tiledb-failed-tasks"
TABLE_COLUMNS = ["tiledb_task_id", "finished_at", "type", "tiledb_status", "name", "threatconnect_task_id", "status"]
MAX_LOG_CHARS = 4000
OTHER_FAILURES = sorted(UNSUCCESSFUL_STATUSES - {ArrayTaskStatus.FAILED.value})


def failure_time(task: ArrayTask) -> datetime | None:
    """When the task failed: its finish time, else its start time (UTC), else None."""
    when = task.finish_time or task.start_time
    return as_utc(when) if when is not None else None


def description(task: ArrayTask) -> str:
    """The Description attribute: what ran, where, who ran it and why it failed."""
    when = failure_time(task)
    lines = [
        f"TileDB {task.type or 'task'} task {task.id} ended {task.status}"
        f"{f' at {when.isoformat()}' if when else ''}.",
        "",
        f"Name: {task.name or '-'}",
        f"Namespace: {task.namespace or '-'}",
        f"Run by: {task.username or '-'}",
        f"Reason: {task.status_message or '-'}",
    ]
    if task.start_time is not None:
        lines.append(f"Started: {as_utc(task.start_time).isoformat()}")
    array = task.array_metadata or {}
    if array.get("tiledb_uri") or array.get("name"):
        lines.append(f"Array: {array.get('tiledb_uri') or array.get('name')}")
    if task.sql_query:
        lines.append(f"SQL: {task.sql_query[:1000]}")
    if task.udf_language:
        lines.append(f"UDF language: {task.udf_language}")
    if task.task_graph_uuid:
        lines.append(f"Task graph: {task.task_graph_uuid}")
    return "\n".join(lines)


def task_spec(task: ArrayTask, *, tags: list[str], security_label: str | None) -> TaskSpec:
    """The ThreatConnect task for one failed TileDB task (marker ``tiledb:<task id>``).

    Args:
        task: The failed TileDB task (its ``id`` set).
        tags: Extra tags for the ThreatConnect task.
        security_label: An existing security label to apply, or None.
    """
    assert task.id
    label = task.name or task.id
    attributes = [
        AttributeSpec(type="Description", value=description(task), displayed=True),
        AttributeSpec(type="Source", value=SOURCE),
        AttributeSpec(type="External ID", value=task.id),
    ]
    context = "\n\n".join(
        part for part in (
            f"Status message: {task.status_message}" if task.status_message else "",
            f"Logs:\n{task.logs[-MAX_LOG_CHARS:]}" if task.logs else "",
        ) if part
    )
    if context:
        attributes.append(AttributeSpec(type="Additional Analysis and Context", value=context))
    return TaskSpec(
        marker=f"tiledb:{task.id}",
        name=task_name(f"TileDB {task.type or 'task'} {task.status}: {label} ({task.namespace or '-'})"),
        tags=clean_tags(["tiledb", task.status, task.type], tags),
        attributes=attributes,
        security_labels=[security_label] if security_label else [],
    )


def source_item(
    task: ArrayTask, when: datetime, *, wanted_types: set[str] | None, tags: list[str], security_label: str | None
) -> SourceItem:
    """One failed TileDB task as a :class:`SourceItem` (spec None when its type is filtered out)."""
    assert task.id
    keep = wanted_types is None or (task.type or "").upper() in wanted_types
    row = {
        "tiledb_task_id": task.id,
        "finished_at": when.isoformat(),
        "type": task.type,
        "tiledb_status": task.status,
        "name": task.name,
        "namespace": task.namespace,
        "reason": (task.status_message or "")[:200],
    }
    payload = {
        "tiledb_task_id": task.id, "type": task.type, "status": task.status, "name": task.name,
        "namespace": task.namespace, "username": task.username, "reason": (task.status_message or "")[:500],
        "finished_at": when.isoformat(),
    }
    return SourceItem(
        item_id=task.id, timestamp=when,
        spec=task_spec(task, tags=tags, security_label=security_label) if keep else None,
        row=row, name=task.name or task.id, payload=payload,
    )


@flow(name="tiledb-failed-tasks-to-threatconnect")
async def tiledb_failed_tasks_to_threatconnect(
    tiledb_block: str = "tiledb",
    threatconnect_block: str = "threatconnect",
    namespace: str | None = None,
    include_other_failures: bool = False,
    task_types: list[str] | None = None,
    tags: list[str] | None = None,
    security_label: str | None = None,
    first_run_lookback_hours: float = 24.0,
    max_task_hours: float = 24.0,
    max_items: int = 500,
    page_size: int = 100,
    concurrency: int = 8,
    watermark: str = "tiledb-failed-tasks-to-threatconnect-tiledb",
) -> dict[str, Any]:
    """Record failed TileDB Cloud tasks in ThreatConnect as Tasks, exactly once each.

    Args:
        tiledb_block: Name of the saved TileDB Cloud credentials block.
        threatconnect_block: Name of the saved ThreatConnect credentials block.
        namespace: Only tasks of this namespace (empty: every task the credentials can see).
        include_other_failures: Also record RESOURCES_UNAVAILABLE, DENIED and CANCELLED tasks, not only FAILED.
        task_types: Only these task types, e.g. SQL or UDF (empty: every type).
        tags: Extra tags for every ThreatConnect task.
        security_label: Existing ThreatConnect security label for every task, e.g. TLP:AMBER.
        first_run_lookback_hours: How far back the first run looks, in hours (TileDB keeps 7 days by default).
        max_task_hours: Longest a task may run before failing; tasks started this much before the watermark are
            listed again so a late failure is not missed.
        max_items: Most failed tasks recorded in one run; the rest wait for the next run.
        page_size: Failed tasks written to ThreatConnect per batch (1-1000).
        concurrency: ThreatConnect tasks written at once (1-32).
        watermark: Name of the Prefect Variable holding this flow's watermark.

    Returns:
        Counts, the ThreatConnect task ids and the new watermark.
    """
    check_run_options(max_items=max_items, page_size=page_size, concurrency=concurrency)
    if not max_task_hours >= 0:
        raise BadInputError(f"max_task_hours must be zero or more, got {max_task_hours!r}", service="prefect-soar")
    types = list(dict.fromkeys(t.strip().upper() for t in task_types or () if t.strip()))
    wanted = set(types) or None
    extra_tags = clean_tags(tags or [])
    statuses = [ArrayTaskStatus.FAILED.value, *(OTHER_FAILURES if include_other_failures else [])]
    logger = get_run_logger()
    tiledb = await load_block(TileDBCredentials, tiledb_block)
    threatconnect = await load_block(ThreatConnectCredentials, threatconnect_block)
    start = await load_watermark(watermark)
    report = AuditReport(source="tiledb", watermark_name=watermark, start=start, watermark=start)
    since = start.since(timedelta(hours=first_run_lookback_hours))
    listed_from = since - timedelta(hours=max_task_hours)
    logger.info("reading TileDB tasks %s started since %s, failed since %s", statuses, listed_from, since)

    try:
        found: dict[str, ArrayTask] = {}
        for status in statuses:
            listed = await list_all(
                tiledb, namespace=namespace, start=listed_from, status=status,
                type=types[0] if len(types) == 1 else None, per_page=100, max_items=None,
            )
            found.update({t.id: t for t in listed if t.id})
        report.fetched = len(found)
        items: list[SourceItem] = []
        for failed in found.values():
            when = failure_time(failed)
            if when is None:
                logger.warning("TileDB task %s has neither finish nor start time; skipped", failed.id)
                continue
            if when >= since:
                items.append(source_item(failed, when, wanted_types=wanted, tags=extra_tags,
                                         security_label=security_label))
        planned, capped = plan_page(items, report.watermark, max_items)
        report.capped = capped
        for offset in range(0, len(planned), page_size):
            report.pages += 1
            batch = planned[offset : offset + page_size]
            if not await sink_page(
                threatconnect, batch, report, concurrency=concurrency, event=FAILURE_EVENT,
                resource_prefix="tiledb.task",
            ):
                break
    except Exception as exc:
        report.errors.append(f"run aborted: {type(exc).__name__}: {exc}")
        await _publish(report)
        raise
    await _publish(report)
    raise_for_failures(report)
    return report.summary()


async def _publish(report: AuditReport) -> None:
    await publish_summary(
        ARTIFACT_KEY, report.rows, report.markdown("TileDB failed tasks → ThreatConnect", TABLE_COLUMNS),
        description="Failed TileDB Cloud tasks recorded as ThreatConnect tasks",
    )


__all__ = ["FAILURE_EVENT", "description", "task_spec", "tiledb_failed_tasks_to_threatconnect"]
