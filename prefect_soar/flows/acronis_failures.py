"""Acronis failures → ThreatConnect: every failed Acronis task becomes exactly one ThreatConnect Task.

Reads Acronis Task Manager tasks completed since the watermark (``completedAt=ge(<watermark>)``,
``order=asc(completedAt)``, ``state=completed``, ``resultCode=error`` and optionally ``warning``),
one cursor page at a time, and finds or creates one ThreatConnect Task per Acronis task (marker
``acronis:<task id>``) with a Description (resource, policy, error), Source, External ID and the
error details as attributes, tags and an optional security label. One event
``prefect-soar.acronis.failure`` per recorded task; the watermark advances only over items
written completely.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger

from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.acronis_filters import TaskQuery, TimeFilter
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
from prefect_soar.flows.watermark import load_watermark
from prefect_soar.models.acronis import ObjectRef, ResultCode, Task, TaskState
from prefect_soar.models.threatconnect import AttributeSpec, TaskSpec
from prefect_soar.tasks.acronis import list_tasks

FAILURE_EVENT = "prefect-soar.acronis.failure"
SOURCE = "Acronis Cyber Protect Cloud"
ARTIFACT_KEY = "acronis-failures"
TABLE_COLUMNS = ["acronis_task_id", "completed_at", "type", "result_code", "resource", "threatconnect_task_id",
                 "status"]


def _ref(ref: ObjectRef | None) -> str:
    if ref is None or not (ref.name or ref.id):
        return "-"
    details = ", ".join(part for part in (ref.type, f"id {ref.id}" if ref.id else None) if part)
    return f"{ref.name or ref.id} ({details})" if details else str(ref.name or ref.id)


def error_details(task: Task) -> str | None:
    """The task's error as readable lines (domain, code, message, reason, causes), or None."""
    errors = [e for e in ((task.result.error if task.result else None), task.error) if e is not None]
    if not errors:
        return None
    lines: list[str] = []
    for err in errors:
        head = " / ".join(str(part) for part in (err.domain, err.code) if part not in (None, ""))
        text = " — ".join(part for part in (err.message, err.reason) if part)
        lines.append(f"{head}: {text}" if head else text)
        causes = getattr(err, "causes", None)
        if isinstance(causes, list):
            for cause in causes[:5]:
                if isinstance(cause, dict):
                    where = " / ".join(str(cause.get(k)) for k in ("domain", "code") if cause.get(k))
                    lines.append(f"  cause {where}: {cause.get('message', '')}".rstrip())
    return "\n".join(line for line in dict.fromkeys(lines) if line.strip())


def description(task: Task) -> str:
    """The Description attribute: what failed, where, under which policy, and why."""
    completed = task.completed_at.isoformat() if task.completed_at else "unknown"
    lines = [
        f"Acronis {task.type or 'task'} task {task.key} completed with result '{task.result_code}' at {completed}.",
        "",
        f"Resource: {_ref(task.resource)}",
        f"Policy: {_ref(task.policy)}",
        f"Error: {task.error_message or '-'}",
    ]
    if task.tenant is not None and (task.tenant.name or task.tenant.id):
        lines.append(f"Tenant: {task.tenant.name or task.tenant.id}")
    if task.started_by_user:
        lines.append(f"Started by: {task.started_by_user}")
    title = (task.context or {}).get("title")
    if isinstance(title, str) and title:
        lines.append(f"Task title: {title}")
    if task.uuid:
        lines.append(f"Task UUID: {task.uuid}")
    return "\n".join(lines)


def task_spec(task: Task, *, tags: list[str], security_label: str | None) -> TaskSpec:
    """The ThreatConnect task for one failed Acronis task (marker ``acronis:<task id>``).

    Args:
        task: The completed Acronis task.
        tags: Extra tags for the ThreatConnect task.
        security_label: An existing security label to apply, or None.
    """
    resource = task.resource.name if task.resource and task.resource.name else None
    policy = f" ({task.policy.name})" if task.policy and task.policy.name else ""
    name = f"Acronis {task.type or 'task'} {task.result_code}{f' on {resource}' if resource else ''}{policy}"
    attributes = [
        AttributeSpec(type="Description", value=description(task), displayed=True),
        AttributeSpec(type="Source", value=SOURCE),
        AttributeSpec(type="External ID", value=task.key),
    ]
    details = error_details(task)
    if details:
        attributes.append(AttributeSpec(type="Additional Analysis and Context", value=details))
    return TaskSpec(
        marker=f"acronis:{task.key}",
        name=task_name(name),
        tags=clean_tags(["acronis", task.result_code, task.type], tags),
        attributes=attributes,
        security_labels=[security_label] if security_label else [],
    )


def source_item(
    task: Task, *, wanted_types: set[str] | None, tags: list[str], security_label: str | None
) -> SourceItem:
    """One Acronis task as a :class:`SourceItem` (spec None when its type is filtered out)."""
    assert task.completed_at is not None
    keep = wanted_types is None or (task.type or "").lower() in wanted_types
    row = {
        "acronis_task_id": task.key,
        "completed_at": task.completed_at.isoformat(),
        "type": task.type,
        "result_code": task.result_code,
        "resource": task.resource.name if task.resource else None,
        "policy": task.policy.name if task.policy else None,
        "error": (task.error_message or "")[:200],
    }
    payload = {
        "acronis_task_id": task.key,
        "type": task.type,
        "result_code": task.result_code,
        "resource": task.resource.name if task.resource else None,
        "policy": task.policy.name if task.policy else None,
        "error": (task.error_message or "")[:500],
        "completed_at": task.completed_at.isoformat(),
    }
    return SourceItem(
        item_id=task.key, timestamp=task.completed_at,
        spec=task_spec(task, tags=tags, security_label=security_label) if keep else None,
        row=row, name=row["resource"] or task.key, payload=payload,
    )


def build_query(since: datetime, *, include_warnings: bool, task_types: list[str] | None) -> TaskQuery:
    """The listing query: completed with error (and warning) since ``since`` (inclusive), oldest first.

    A single task type is filtered by the service; several are filtered by the flow.
    """
    codes = [ResultCode.ERROR.value] + ([ResultCode.WARNING.value] if include_warnings else [])
    single = task_types[0] if task_types and len(task_types) == 1 else None
    return TaskQuery(
        state=TaskState.COMPLETED.value, result_code=codes, type=single,
        completed_at=TimeFilter(ge=since), order="asc(completedAt)", lod="full",
    )


@flow(name="acronis-failures-to-threatconnect")
async def acronis_failures_to_threatconnect(
    acronis_block: str = "acronis",
    threatconnect_block: str = "threatconnect",
    include_warnings: bool = False,
    task_types: list[str] | None = None,
    tags: list[str] | None = None,
    security_label: str | None = None,
    first_run_lookback_hours: float = 24.0,
    max_items: int = 500,
    page_size: int = 100,
    concurrency: int = 8,
    watermark: str = "acronis-failures-to-threatconnect-acronis",
) -> dict[str, Any]:
    """Record failed Acronis tasks in ThreatConnect as Tasks, exactly once each.

    Args:
        acronis_block: Name of the saved Acronis credentials block.
        threatconnect_block: Name of the saved ThreatConnect credentials block.
        include_warnings: Also record tasks that completed with result code warning.
        task_types: Only these Acronis task types, e.g. backup (empty: every type).
        tags: Extra tags for every ThreatConnect task.
        security_label: Existing ThreatConnect security label for every task, e.g. TLP:AMBER.
        first_run_lookback_hours: How far back the first run looks, in hours.
        max_items: Most Acronis tasks recorded in one run; the rest wait for the next run.
        page_size: Acronis tasks read per page (1-1000).
        concurrency: ThreatConnect tasks written at once (1-32).
        watermark: Name of the Prefect Variable holding this flow's watermark.

    Returns:
        Counts, the ThreatConnect task ids and the new watermark.
    """
    check_run_options(max_items=max_items, page_size=page_size, concurrency=concurrency)
    types = list(dict.fromkeys(t.strip() for t in task_types or () if t.strip()))
    wanted = {t.lower() for t in types} or None
    extra_tags = clean_tags(tags or [])
    logger = get_run_logger()
    acronis = await load_block(AcronisCredentials, acronis_block)
    threatconnect = await load_block(ThreatConnectCredentials, threatconnect_block)
    start = await load_watermark(watermark)
    report = AuditReport(source="acronis", watermark_name=watermark, start=start, watermark=start)
    since = start.since(timedelta(hours=first_run_lookback_hours))
    query = build_query(since, include_warnings=include_warnings, task_types=types)
    logger.info("reading Acronis tasks: %s", query.to_params())

    try:
        cursor: str | None = None
        while True:
            page = await list_tasks(acronis, query=query if cursor is None else None, limit=page_size, after=cursor)
            report.pages += 1
            report.fetched += len(page.items)
            dated = [t for t in page.items if t.completed_at is not None]
            if len(dated) < len(page.items):
                logger.warning("%d completed task(s) without completedAt skipped", len(page.items) - len(dated))
            items = [source_item(t, wanted_types=wanted, tags=extra_tags, security_label=security_label)
                     for t in dated]
            planned, capped = plan_page(items, report.watermark, max_items - report.processed)
            if planned and not await sink_page(
                threatconnect, planned, report, concurrency=concurrency, event=FAILURE_EVENT,
                resource_prefix="acronis.task",
            ):
                break
            if capped:
                report.capped = True
                break
            if not page.after:
                break
            cursor = page.after
    except Exception as exc:
        report.errors.append(f"run aborted: {type(exc).__name__}: {exc}")
        await _publish(report)
        raise
    await _publish(report)
    raise_for_failures(report)
    return report.summary()


async def _publish(report: AuditReport) -> None:
    await publish_summary(
        ARTIFACT_KEY, report.rows, report.markdown("Acronis failures → ThreatConnect", TABLE_COLUMNS),
        description="Failed Acronis tasks recorded as ThreatConnect tasks",
    )


__all__ = ["FAILURE_EVENT", "acronis_failures_to_threatconnect", "build_query", "description", "task_spec"]
