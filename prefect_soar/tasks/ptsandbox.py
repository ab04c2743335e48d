"""Prefect tasks for PT Sandbox: one per client operation, plus a batched artifact download.

Every task takes a :class:`~prefect_soar.blocks.ptsandbox.PTSandboxCredentials` block first,
opens one client for its run, logs only ids and counts, and returns pydantic models (or lists of
them). Streams (CSV export, artifact ZIPs) are written to the path the caller gives and the task
returns where, how big and the SHA-256.

Read-only tasks retry once on transient failures (connection errors, 429, 5xx) on top of the
client's own HTTP retries; submitting a scan never retries, so a flaky network cannot create a
duplicate task. Caching is off: answers change over time and downloads must really happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, Field

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.errors import RateLimitedError, ServerError, SoarError, TransportError
from prefect_soar.models.ptsandbox import (
    DownloadedArchive,
    DownloadedFile,
    FilterValues,
    Report,
    ScanCreated,
    ScanOptions,
    ScansResponse,
    Task,
    TasksPage,
    TaskStatus,
    TaskSummary,
    TreeResponse,
)

TRANSIENT = (TransportError, ServerError, RateLimitedError)
DEFAULT_MAX_TASKS = 1000


async def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only connection errors, 429 and 5xx, never 4xx or bad input."""
    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        try:
            error = await state.aresult(raise_on_failure=False)
        except Exception:
            return False
    return isinstance(error, TRANSIENT)


READ_RETRIES = 1
READ_RETRY_DELAY = 10


@task(
    name="ptsandbox-get-tasks",
    description="List one page of PT Sandbox tasks (UI API).",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_get_tasks(
    credentials: PTSandboxCredentials,
    query: str = "",
    limit: int = 20,
    offset: int = 0,
    utc_offset_seconds: int = 0,
    next_cursor: str | None = None,
) -> TasksPage:
    """List one page of tasks.

    Args:
        credentials: The PT Sandbox block (login and password).
        query: Query-language filter, e.g. ``age < 7d AND verdict = DANGEROUS ORDER BY start desc``.
        limit: Tasks per page (0-200).
        offset: Tasks to skip (relative to the cursor when one is given).
        utc_offset_seconds: Your offset from UTC, for time literals in the query.
        next_cursor: The previous page's ``next_cursor``.

    Returns:
        The page; its ``next_cursor`` is empty on the last page.
    """
    async with credentials.get_client() as client:
        page = await client.get_tasks(query, limit, offset, utc_offset_seconds, next_cursor)
    get_run_logger().info("PT Sandbox: %d tasks on this page, more: %s", len(page.tasks), bool(page.next_cursor))
    return page


@task(
    name="ptsandbox-list-all-tasks",
    description="List every PT Sandbox task matching a query, up to a cap.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_list_all_tasks(
    credentials: PTSandboxCredentials,
    query: str = "",
    page_size: int = 100,
    max_items: int = DEFAULT_MAX_TASKS,
) -> list[Task]:
    """List every task matching ``query`` by following cursors, stopping at ``max_items``.

    Args:
        credentials: The PT Sandbox block (login and password).
        query: Query-language filter.
        page_size: Tasks per request (1-200).
        max_items: Hard cap on the tasks returned per run.

    Returns:
        The tasks, newest first when the query orders them so.
    """
    async with credentials.get_client() as client:
        tasks = [t async for t in client.iter_tasks(query, page_size=page_size, max_items=max_items)]
    get_run_logger().info("PT Sandbox: listed %d tasks (cap %d)", len(tasks), max_items)
    return tasks


@task(
    name="ptsandbox-export-tasks-csv",
    description="Export PT Sandbox tasks as CSV to a file.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_export_tasks_csv(
    credentials: PTSandboxCredentials,
    dest_path: str,
    query: str = "",
    columns: list[str] | None = None,
    utc_offset_seconds: int = 0,
) -> DownloadedFile:
    """Export the task listing as CSV into ``dest_path`` (written atomically, mode 0600).

    Args:
        credentials: The PT Sandbox block (login and password).
        dest_path: The CSV file to write.
        query: Query-language filter.
        columns: Columns, e.g. ``["taskName", "verdict", "time"]``; empty for the appliance's default.
        utc_offset_seconds: Your offset from UTC, for times in the query and the CSV.

    Returns:
        Path, size and SHA-256 of the CSV.
    """
    async with credentials.get_client() as client:
        saved = await client.download_tasks_csv(
            dest_path, query=query, columns=columns, utc_offset_seconds=utc_offset_seconds
        )
    get_run_logger().info("PT Sandbox: exported tasks CSV (%d bytes)", saved.size)
    return saved


@task(
    name="ptsandbox-get-tasks-filter-values",
    description="Filter values seen in a period.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_get_tasks_filter_values(
    credentials: PTSandboxCredentials, from_: str = "", to: str = "", scan_id: str | None = None
) -> FilterValues:
    """Values seen in a period (entry points, threat classes, properties, categories).

    Args:
        credentials: The PT Sandbox block (login and password).
        from_: Start of the period, e.g. ``2025-03-14T00:00:00``.
        to: End of the period.
        scan_id: Restrict to one task.

    Returns:
        The filter values.
    """
    async with credentials.get_client() as client:
        values = await client.get_tasks_filter_values(from_, to, scan_id)
    get_run_logger().info("PT Sandbox: %d entry points in filter values", len(values.entry_points))
    return values


@task(
    name="ptsandbox-get-task-summary",
    description="One PT Sandbox task with its quarantine events.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_get_task_summary(credentials: PTSandboxCredentials, scan_id: str) -> TaskSummary:
    """One task with its verdicts, entry point and quarantine events.

    Args:
        credentials: The PT Sandbox block (login and password).
        scan_id: The task's UUID.

    Returns:
        The summary (the task is ``.task``).
    """
    async with credentials.get_client() as client:
        summary = await client.get_task_summary(scan_id)
    get_run_logger().info("PT Sandbox: task %s verdict %s", scan_id, summary.task.verdict)
    return summary


@task(
    name="ptsandbox-get-task-tree",
    description="A page of a PT Sandbox task's artifact tree.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_get_task_tree(
    credentials: PTSandboxCredentials,
    scan_id: str,
    parent_path: list[int] | None = None,
    filtered_by_ids: list[int] | None = None,
    limit: int = 1000,
    offset: int = 0,
    max_tree_level: int = 3,
    sort_mode: str = "DANGEROUS",
) -> TreeResponse:
    """A page of a task's artifact tree.

    Args:
        credentials: The PT Sandbox block (login and password).
        scan_id: The task's UUID.
        parent_path: Full path of the node to start below, e.g. ``[0, 2]``.
        filtered_by_ids: Only these node ids.
        limit: Nodes per page (1-1000).
        offset: Nodes to skip.
        max_tree_level: Depth to return below the parent.
        sort_mode: ``DANGEROUS`` (dangerous first) or ``ALPHABETICAL``.

    Returns:
        The nodes and whether there are more.
    """
    async with credentials.get_client() as client:
        tree = await client.get_task_tree(
            scan_id, parent_path=parent_path, filtered_by_ids=filtered_by_ids, limit=limit, offset=offset,
            max_tree_level=max_tree_level, sort_mode=sort_mode,
        )
    get_run_logger().info("PT Sandbox: task %s tree page of %d nodes", scan_id, len(tree.children))
    return tree


@task(
    name="ptsandbox-get-task-artifact-scans",
    description="Every engine's scan of one tree node.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_get_task_artifact_scans(
    credentials: PTSandboxCredentials, scan_id: str, node_id: int
) -> ScansResponse:
    """Every engine's scan of one artifact-tree node.

    Args:
        credentials: The PT Sandbox block (login and password).
        scan_id: The task's UUID.
        node_id: The node's id from the tree.

    Returns:
        The scans.
    """
    async with credentials.get_client() as client:
        scans = await client.get_task_artifact_scans(scan_id, node_id)
    get_run_logger().info("PT Sandbox: task %s node %d has %d scans", scan_id, node_id, len(scans.scans))
    return scans


@task(
    name="ptsandbox-download-task-artifacts",
    description="Download a task's artifact ZIP to disk.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_download_task_artifacts(
    credentials: PTSandboxCredentials,
    scan_id: str,
    dest_dir: str,
    query: str = "",
    include_sandbox_logs: bool = True,
    skip_data_files: bool = False,
    file_name: str | None = None,
) -> DownloadedArchive:
    """Download all artifacts of a task as an encrypted ZIP (password ``infected``) into ``dest_dir``.

    Args:
        credentials: The PT Sandbox block (login and password).
        scan_id: The task's UUID.
        dest_dir: Folder to write into (created if missing).
        query: Query-language filter on the artifacts.
        include_sandbox_logs: Include behavioural-analysis logs.
        skip_data_files: Leave data files out.
        file_name: File name (default ``<scan_id>.zip``).

    Returns:
        Path, size and SHA-256 of the archive; open it with ``prefect_soar.safe_archive``.
    """
    async with credentials.get_client() as client:
        saved = await client.download_task_artifacts(
            scan_id, dest_dir, query=query, include_sandbox_logs=include_sandbox_logs,
            skip_data_files=skip_data_files, file_name=file_name,
        )
    get_run_logger().info(
        "PT Sandbox: task %s artifacts saved (%d bytes, sha256 %s)", scan_id, saved.size, saved.sha256
    )
    return saved


class BatchDownload(BaseModel):
    """Result of a batched artifact download: what was saved, and what failed with why."""

    downloaded: dict[str, DownloadedArchive] = Field(default_factory=dict)
    failed: dict[str, str] = Field(default_factory=dict)


@task(
    name="ptsandbox-download-artifacts-batch",
    description="Download several tasks' artifacts.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_download_artifacts_batch(
    credentials: PTSandboxCredentials,
    scan_ids: Sequence[str],
    dest_dir: str,
    max_concurrency: int = 4,
    include_sandbox_logs: bool = True,
    skip_data_files: bool = False,
) -> BatchDownload:
    """Download the artifact ZIPs of several tasks in one task run, a few at a time.

    A task whose download fails is reported in ``failed`` (its error message) and does not stop
    the others; each archive is ``<dest_dir>/<scan_id>.zip``.

    Args:
        credentials: The PT Sandbox block (login and password).
        scan_ids: The tasks' UUIDs.
        dest_dir: Folder to write into (created if missing).
        max_concurrency: Downloads in flight at once (1-16).
        include_sandbox_logs: Include behavioural-analysis logs.
        skip_data_files: Leave data files out.

    Returns:
        The saved archives by scan id, and the failures by scan id.
    """
    if not 1 <= max_concurrency <= 16:
        raise ValueError("max_concurrency must be from 1 to 16")
    result = BatchDownload()
    gate = asyncio.Semaphore(max_concurrency)
    async with credentials.get_client() as client:

        async def one(scan_id: str) -> None:
            async with gate:
                try:
                    result.downloaded[scan_id] = await client.download_task_artifacts(
                        scan_id, dest_dir, include_sandbox_logs=include_sandbox_logs, skip_data_files=skip_data_files
                    )
                except SoarError as exc:
                    result.failed[scan_id] = str(exc)

        await asyncio.gather(*(one(s) for s in dict.fromkeys(scan_ids)))
    get_run_logger().info(
        "PT Sandbox: downloaded %d artifact archives, %d failed", len(result.downloaded), len(result.failed)
    )
    return result


@task(
    name="ptsandbox-download-files",
    description="Download stored files by SHA-256 as one ZIP.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_download_files(
    credentials: PTSandboxCredentials,
    items: list[str | dict[str, str]],
    dest_dir: str,
    file_name: str = "files.zip",
) -> DownloadedArchive:
    """Download stored files (samples, pcaps, traces) by SHA-256 into one encrypted ZIP.

    Args:
        credentials: The PT Sandbox block (login and password).
        items: SHA-256 strings or ``{"sha256": ..., "name": ...}`` items.
        dest_dir: Folder to write into (created if missing).
        file_name: Name of the ZIP file.

    Returns:
        Path, size and SHA-256 of the archive (password ``infected``).
    """
    async with credentials.get_client() as client:
        saved = await client.download_files(items, dest_dir, file_name=file_name)
    get_run_logger().info("PT Sandbox: %d stored files requested, archive of %d bytes", len(items), saved.size)
    return saved


@task(
    name="ptsandbox-scan-file",
    description="Upload a file to PT Sandbox and start its scan.",
    retries=0,
    cache_policy=NO_CACHE,
)
async def ptsandbox_scan_file(
    credentials: PTSandboxCredentials,
    path: str,
    file_name: str | None = None,
    priority: int = 3,
    options: ScanOptions | None = None,
) -> ScanCreated:
    """Upload a sample and start its scan (public API); never retried, so no duplicate task.

    Args:
        credentials: The PT Sandbox block (API key).
        path: The sample on the worker's disk.
        file_name: Name the appliance shows (default: the file's name).
        priority: 1 (lowest) to 4.
        options: Scan options (defaults: the reference SDK's).

    Returns:
        The new task's ``scan_id``.
    """
    async with credentials.get_client() as client:
        created = await client.scan_file(path, file_name=file_name, priority=priority, options=options)
    get_run_logger().info("PT Sandbox: scan %s started for %s", created.scan_id, Path(path).name)
    return created


@task(
    name="ptsandbox-scan-url",
    description="Start a PT Sandbox scan of a URL.",
    retries=0,
    cache_policy=NO_CACHE,
)
async def ptsandbox_scan_url(
    credentials: PTSandboxCredentials, url: str, priority: int = 3, options: ScanOptions | None = None
) -> ScanCreated:
    """Start the scan of a URL (public API); never retried.

    Args:
        credentials: The PT Sandbox block (API key).
        url: An absolute http(s) or ftp URL.
        priority: 1 (lowest) to 4.
        options: Scan options.

    Returns:
        The new task's ``scan_id``.
    """
    async with credentials.get_client() as client:
        created = await client.scan_url(url, priority=priority, options=options)
    get_run_logger().info("PT Sandbox: URL scan %s started", created.scan_id)
    return created


@task(
    name="ptsandbox-check-task",
    description="Status of a PT Sandbox scan.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_check_task(credentials: PTSandboxCredentials, scan_id: str) -> TaskStatus:
    """Status of a scan: preflight, then the current state and verdict.

    Args:
        credentials: The PT Sandbox block (API key).
        scan_id: The task's UUID.

    Returns:
        The status.
    """
    async with credentials.get_client() as client:
        status = await client.check_task(scan_id)
    state = "preflight" if status.is_preflight else (status.result.scan_state if status.result else "unknown")
    get_run_logger().info("PT Sandbox: scan %s is %s", scan_id, state)
    return status


@task(
    name="ptsandbox-get-report",
    description="The report of a PT Sandbox scan (short until done).",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_get_report(credentials: PTSandboxCredentials, scan_id: str) -> Report:
    """The scan report: short (``scan_id`` only) until the scan is done, then long.

    Args:
        credentials: The PT Sandbox block (API key).
        scan_id: The task's UUID.

    Returns:
        The report.
    """
    async with credentials.get_client() as client:
        report = await client.get_report(scan_id)
    get_run_logger().info("PT Sandbox: report of %s is %s, verdict %s", scan_id,
                          "long" if report.is_long else "short", report.verdict)
    return report


@task(
    name="ptsandbox-wait-for-report",
    description="Wait for a PT Sandbox scan's full report.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_wait_for_report(
    credentials: PTSandboxCredentials, scan_id: str, timeout: float = 600, poll: float = 5
) -> Report:
    """Poll a scan until its long report is ready.

    Args:
        credentials: The PT Sandbox block (API key).
        scan_id: The task's UUID.
        timeout: Seconds to wait in total before failing with a wait timeout.
        poll: First interval between polls in seconds (it grows up to 30 s).

    Returns:
        The long report.
    """
    async with credentials.get_client() as client:
        report = await client.wait_for_report(scan_id, timeout=timeout, poll=poll)
    get_run_logger().info("PT Sandbox: scan %s finished, verdict %s", scan_id, report.verdict)
    return report


@task(
    name="ptsandbox-check-connection",
    description="Check the PT Sandbox credentials.",
    retries=READ_RETRIES,
    retry_delay_seconds=READ_RETRY_DELAY,
    retry_condition_fn=retry_if_transient,
    cache_policy=NO_CACHE,
)
async def ptsandbox_check_connection(credentials: PTSandboxCredentials) -> dict[str, str]:
    """Check every configured credential with one cheap call each (a health check).

    Args:
        credentials: The PT Sandbox block.

    Returns:
        ``{"public_api": <version>, "ui": "ok"}`` for the surfaces checked.
    """
    async with credentials.get_client() as client:
        checked = await client.check_connection()
    get_run_logger().info("PT Sandbox: connection ok (%s)", ", ".join(sorted(checked)))
    return checked


__all__ = [
    "BatchDownload",
    "ptsandbox_check_connection",
    "ptsandbox_check_task",
    "ptsandbox_download_artifacts_batch",
    "ptsandbox_download_files",
    "ptsandbox_download_task_artifacts",
    "ptsandbox_export_tasks_csv",
    "ptsandbox_get_report",
    "ptsandbox_get_task_artifact_scans",
    "ptsandbox_get_task_summary",
    "ptsandbox_get_task_tree",
    "ptsandbox_get_tasks",
    "ptsandbox_get_tasks_filter_values",
    "ptsandbox_list_all_tasks",
    "ptsandbox_scan_file",
    "ptsandbox_scan_url",
    "ptsandbox_wait_for_report",
]
