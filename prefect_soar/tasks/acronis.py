"""Prefect tasks for the Acronis Task Manager: list and read tasks and activities.

Every task takes an :class:`~prefect_soar.blocks.acronis.AcronisCredentials` block first, opens one
client for its work, logs counts and ids only, and returns pydantic models. Prefect retries them on
transient failures (connection errors, 429, 5xx) only, never on bad input, auth or not-found errors.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import get_run_logger, task

from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.clients.acronis_filters import ActivityQuery, TaskQuery, task_id_value
from prefect_soar.errors import (
    AuthenticationError,
    BadInputError,
    BadRequestError,
    NotFoundError,
)
from prefect_soar.models.acronis import Activity, ActivityPage, Task, TaskPage

PERMANENT_ERRORS = (BadInputError, BadRequestError, AuthenticationError, NotFoundError)
MAX_CONCURRENCY = 32


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry unless the failure is one a retry cannot fix."""
    return not isinstance(getattr(state, "data", None), PERMANENT_ERRORS)


@task(
    name="acronis-list-tasks",
    description="List one page of Acronis Task Manager tasks matching a query.",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
async def list_tasks(
    credentials: AcronisCredentials,
    query: TaskQuery | None = None,
    limit: int | None = None,
    after: str | None = None,
) -> TaskPage:
    """List one page of tasks (``GET /api/task_manager/v2/tasks``).

    Args:
        credentials: The Acronis API client block.
        query: Filters, order and level of detail (ignored when ``after`` is given: the cursor carries them).
        limit: Page size.
        after: Cursor of the next page, from a previous page's ``after``.

    Returns:
        The page; its ``after`` is the next cursor (``None`` on the last page).
    """
    logger = get_run_logger()
    async with credentials.get_client() as client:
        if after is not None:
            page = await client.list_tasks(limit=limit, after=after)
        else:
            page = await client.list_tasks(query, limit=limit)
    logger.info("Listed %d Acronis task(s); more pages: %s", len(page.items), page.after is not None)
    return page


@task(
    name="acronis-list-all-tasks",
    description="List every Acronis task matching a query, across pages, up to a cap.",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
async def list_all_tasks(
    credentials: AcronisCredentials,
    query: TaskQuery | None = None,
    max_items: int = 1000,
    page_size: int = 100,
) -> list[Task]:
    """List every task matching a query, following cursors, up to ``max_items``.

    Args:
        credentials: The Acronis API client block.
        query: Filters, order and level of detail, e.g. ``TaskQuery(type="backup", result_code="error",
            completed_at=TimeFilter.after(since))``.
        max_items: Cap on the number of tasks returned.
        page_size: Tasks per request.

    Returns:
        The tasks, in the service's order.
    """
    logger = get_run_logger()
    async with credentials.get_client() as client:
        tasks = [item async for item in client.iter_tasks(query, page_size=page_size, max_items=max_items)]
    logger.info("Listed %d Acronis task(s) (cap %d)", len(tasks), max_items)
    return tasks


@task(
    name="acronis-get-task",
    description="Read one Acronis task by its numeric id.",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
async def get_task(credentials: AcronisCredentials, task_id: int | str) -> Task:
    """Read one task (``GET /api/task_manager/v2/tasks/{id}``).

    Args:
        credentials: The Acronis API client block.
        task_id: The task's numeric id, or its ``idString``.

    Returns:
        The task.
    """
    logger = get_run_logger()
    async with credentials.get_client() as client:
        found = await client.get_task(task_id)
    logger.info("Read Acronis task %s (state %s)", found.key, found.state)
    return found


@task(
    name="acronis-get-tasks",
    description="Read several Acronis tasks by id, concurrently, in one task run.",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
async def get_tasks(
    credentials: AcronisCredentials,
    task_ids: list[int | str],
    concurrency: int = 8,
) -> list[Task]:
    """Read several tasks with bounded concurrency (one task run, one client, one token).

    Args:
        credentials: The Acronis API client block.
        task_ids: Numeric ids (or ``idString`` values).
        concurrency: Requests in flight at most (1 to 32).

    Returns:
        The tasks, in the order of ``task_ids``.
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise BadInputError(f"concurrency must be from 1 to {MAX_CONCURRENCY}, got {concurrency}", service="acronis")
    ids = [task_id_value("task_id", value) for value in task_ids]
    logger = get_run_logger()
    gate = asyncio.Semaphore(concurrency)
    async with credentials.get_client() as client:

        async def one(number: int) -> Task:
            async with gate:
                return await client.get_task(number)

        found = await asyncio.gather(*(one(number) for number in ids))
    logger.info("Read %d Acronis task(s)", len(found))
    return list(found)


@task(
    name="acronis-list-activities",
    description="List one page of Acronis Task Manager activities matching a query.",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
async def list_activities(
    credentials: AcronisCredentials,
    query: ActivityQuery | None = None,
    limit: int | None = None,
    after: str | None = None,
) -> ActivityPage:
    """List one page of activities (``GET /api/task_manager/v2/activities``).

    Args:
        credentials: The Acronis API client block.
        query: Filters, order and level of detail, e.g. ``ActivityQuery(task_id=...)``.
        limit: Page size.
        after: Cursor of the next page (the query is then ignored: the cursor carries it).

    Returns:
        The page.
    """
    logger = get_run_logger()
    async with credentials.get_client() as client:
        if after is not None:
            page = await client.list_activities(limit=limit, after=after)
        else:
            page = await client.list_activities(query, limit=limit)
    logger.info("Listed %d Acronis activity(ies); more pages: %s", len(page.items), page.after is not None)
    return page


@task(
    name="acronis-list-all-activities",
    description="List every Acronis activity matching a query, across pages, up to a cap.",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
async def list_all_activities(
    credentials: AcronisCredentials,
    query: ActivityQuery | None = None,
    max_items: int = 1000,
    page_size: int = 100,
) -> list[Activity]:
    """List every activity matching a query, following cursors, up to ``max_items``.

    Args:
        credentials: The Acronis API client block.
        query: Filters, order and level of detail.
        max_items: Cap on the number of activities returned.
        page_size: Activities per request.

    Returns:
        The activities, in the service's order.
    """
    logger = get_run_logger()
    async with credentials.get_client() as client:
        items = [item async for item in client.iter_activities(query, page_size=page_size, max_items=max_items)]
    logger.info("Listed %d Acronis activity(ies) (cap %d)", len(items), max_items)
    return items


__all__ = [
    "get_task",
    "get_tasks",
    "list_activities",
    "list_all_activities",
    "list_all_tasks",
    "list_tasks",
    "retry_transient",
]
