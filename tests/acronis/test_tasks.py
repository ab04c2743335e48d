"""Prefect tasks for Acronis, run inside flows against the loopback emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect import flow
from prefect.states import Failed
from pydantic import SecretStr

from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.clients.acronis_filters import ActivityQuery, TaskQuery, TimeFilter
from prefect_soar.errors import BadInputError, NotFoundError, ServerError
from prefect_soar.models.acronis import Task
from prefect_soar.simulators._lab import LabServer
from prefect_soar.simulators.acronis import LAB_CREDENTIALS
from prefect_soar.tasks.acronis import (
    get_task,
    get_tasks,
    list_activities,
    list_all_activities,
    list_all_tasks,
    list_tasks,
    retry_transient,
)

from .conftest import LAB_NOW

pytestmark = pytest.mark.usefixtures("prefect_harness")


def lab_block(server: LabServer) -> AcronisCredentials:
    return AcronisCredentials(base_url=server.base_url, client_id=LAB_CREDENTIALS["client_id"],
                              client_secret=SecretStr(LAB_CREDENTIALS["client_secret"]))


async def test_failed_backup_report_flow(acronis_lab: LabServer) -> None:
    creds = lab_block(acronis_lab)
    query = TaskQuery(type="backup", result_code=["error", "timedout"],
                      completed_at=TimeFilter.after(LAB_NOW - timedelta(days=7)), order="desc(completedAt)")

    @flow
    async def failed_backups() -> tuple[list[Task], Task, list[Task], int]:
        failed = await list_all_tasks(creds, query, max_items=500, page_size=5)
        first = await get_task(creds, failed[0].id_string)
        batch = await get_tasks(creds, [t.id for t in failed[:6]], concurrency=3)
        activities = await list_all_activities(creds, ActivityQuery(task_id=first.id), page_size=2)
        return failed, first, batch, len(activities)

    failed, first, batch, activity_count = await failed_backups()
    assert failed and all(t.type == "backup" and t.result_code in ("error", "timedout") for t in failed)
    assert [t.completed_at for t in failed] == sorted((t.completed_at for t in failed), reverse=True)
    assert first.id == failed[0].id > 2**53
    assert [t.id for t in batch] == [t.id for t in failed[:6]]
    assert activity_count == 3
    # one token per task run: each task opens one client
    assert acronis_lab.app.state.backend.token_requests == 4


async def test_page_by_page_with_cursors(acronis_lab: LabServer) -> None:
    creds = lab_block(acronis_lab)

    @flow
    async def two_pages() -> tuple[list[int], list[int], int]:
        first = await list_tasks(creds, TaskQuery(state="completed"), limit=10)
        second = await list_tasks(creds, TaskQuery(state="completed"), limit=10, after=first.after)
        acts = await list_activities(creds, ActivityQuery(state="completed"), limit=4)
        more = await list_activities(creds, limit=4, after=acts.after)
        return [t.id for t in first.items], [t.id for t in second.items], len(acts.items) + len(more.items)

    first, second, activities = await two_pages()
    assert len(first) == len(second) == 10 and not set(first) & set(second)
    assert max(first) < min(second)
    assert activities == 8


async def test_bad_input_fails_the_task_without_retrying(acronis_lab: LabServer) -> None:
    creds = lab_block(acronis_lab)

    @flow
    async def missing() -> None:
        await get_task(creds, 123456789)

    with pytest.raises(NotFoundError):
        await missing()
    assert acronis_lab.control.stats["requests"] == 2  # token + one GET: no Prefect retry on a 404

    @flow
    async def bad_batch() -> None:
        await get_tasks(creds, [1], concurrency=0)

    with pytest.raises(BadInputError, match="concurrency"):
        await bad_batch()


def test_retry_condition_retries_only_transient_failures() -> None:
    assert retry_transient(None, None, Failed(data=ServerError("down", service="acronis"))) is True
    assert retry_transient(None, None, Failed(data=BadInputError("no", service="acronis"))) is False
    assert retry_transient(None, None, Failed(data=NotFoundError("gone", service="acronis"))) is False
