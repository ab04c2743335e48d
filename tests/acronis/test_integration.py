"""AcronisClient against the Acronis emulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from prefect_soar.clients.acronis import AcronisClient
from prefect_soar.clients.acronis_filters import TaskQuery, TimeFilter
from prefect_soar.errors import AuthenticationError, BadInputError, BadRequestError, NotFoundError
from prefect_soar.simulators._lab import FaultConfig, LabServer
from prefect_soar.simulators.acronis_backend import TASKS, matches, parse_query

from .conftest import LAB_NOW, lab_client_for

SIX_LAYOUTS_OF_A_DAY_AGO = (
    "2024-04-30T12:00:00Z", "Tue, 30 Apr 2024 12:00:00 GMT", "Tuesday, 30-Apr-24 12:00:00 GMT",
    "Tue Apr 30 12:00:00 2024", "1714478400", "1714478400000000000ns",
)


def truth(server: LabServer, query: TaskQuery) -> list[int]:
    """Ids the backend itself says match ``query`` (ascending)."""
    backend = server.app.state.backend
    now = backend.now_ns()
    parsed = parse_query(TASKS, query.to_params())
    return sorted(t.id for t in backend.tasks if t.visible(now) and matches(TASKS, parsed, t.snapshot(now)))


async def test_iter_tasks_is_complete_across_pages_in_a_completed_at_window(
    lab_client: AcronisClient, acronis_lab: LabServer,
) -> None:
    window = TimeFilter.between(LAB_NOW - timedelta(days=5), LAB_NOW - timedelta(days=1))
    query = TaskQuery(completed_at=window, order="asc(completedAt)")
    expected = truth(acronis_lab, query)
    assert len(expected) > 50
    async with lab_client as client:
        tasks = [t async for t in client.iter_tasks(query, page_size=9)]
    ids = [t.id for t in tasks]
    assert len(ids) == len(set(ids))  # no duplicates
    assert sorted(ids) == expected  # no gaps
    stamps = [t.completed_at for t in tasks]
    assert stamps == sorted(stamps)  # asc(completedAt) held across pages
    assert all(LAB_NOW - timedelta(days=5) <= s < LAB_NOW - timedelta(days=1) for s in stamps if s)
    requests = acronis_lab.control.stats["requests"]
    assert requests >= -(-len(expected) // 9)


async def test_descending_order_pages_the_same_set_backwards(lab_client: AcronisClient, acronis_lab: LabServer) -> None:
    query = TaskQuery(type="backup", order="desc(updatedAt)")
    async with lab_client as client:
        ids = [t.id async for t in client.iter_tasks(query, page_size=13)]
        first = await client.list_tasks(query, limit=13)
        second = await client.list_tasks(after=first.after)
        back = await client.list_tasks(before=second.before)
    assert sorted(ids) == truth(acronis_lab, query) and len(set(ids)) == len(ids)
    assert [t.id for t in back.items] == [t.id for t in first.items] == ids[:13]
    assert [t.id for t in second.items] == ids[13:26]


async def test_failed_backups_are_found_with_their_reason(lab_client: AcronisClient, acronis_lab: LabServer) -> None:
    since = LAB_NOW - timedelta(days=14)
    query = TaskQuery(type="backup", state="completed", result_code="error", completed_at=TimeFilter.after(since))
    async with lab_client as client:
        failed = [t async for t in client.iter_tasks(query, page_size=4)]
    assert sorted(t.id for t in failed) == truth(acronis_lab, query)
    assert len(failed) >= 5
    for task in failed:
        assert task.failed and task.result_code == "error" and task.type == "backup"
        assert task.error_message and task.resource and task.resource.name and task.policy and task.policy.id
        assert task.result and task.result.error and task.result.error.domain == "Backup"


@pytest.mark.parametrize("layout", SIX_LAYOUTS_OF_A_DAY_AGO)
async def test_every_layout_gives_the_same_answer_through_client_and_emulator(
    lab_client: AcronisClient, acronis_lab: LabServer, layout: str,
) -> None:
    query = TaskQuery(started_at=TimeFilter(ge=layout), result_code=["ok", "warning"])
    expected = truth(acronis_lab, TaskQuery(started_at=TimeFilter(ge=LAB_NOW - timedelta(days=1)),
                                            result_code=["ok", "warning"]))
    assert expected
    async with lab_client as client:
        ids = sorted([t.id async for t in client.iter_tasks(query, page_size=100)])
    assert ids == expected


async def test_big_ids_round_trip_exactly(lab_client: AcronisClient) -> None:
    async with lab_client as client:
        page = await client.list_tasks(limit=20, lod="tiny")
        for listed in page.items:
            assert listed.id > 2**53 and str(listed.id) == listed.id_string
            fetched = await client.get_task(listed.id)
            assert fetched.id == listed.id and fetched.uuid == listed.uuid
        with pytest.raises(NotFoundError):
            await client.get_task(page.items[0].id + 1_000_000_007)


async def test_activities_of_a_task(lab_client: AcronisClient) -> None:
    async with lab_client as client:
        failed = (await client.list_tasks(type="backup", result_code="error", limit=1)).items[0]
        activities = [a async for a in client.iter_activities(task_id=failed.id, page_size=1)]
    assert [a.task_id for a in activities] == [failed.id] * 3
    assert activities[0].result_code == "error" and activities[0].parent_activity_id is None
    assert {a.parent_activity_id for a in activities[1:]} == {activities[0].id}


async def test_a_bad_filter_fails_locally_and_an_unknown_one_fails_at_the_emulator(
    lab_client: AcronisClient, acronis_lab: LabServer,
) -> None:
    async with lab_client as client:
        with pytest.raises(BadInputError, match="not in a supported format"):
            await client.list_tasks(completed_at="gt(2024-04-30)")
        assert acronis_lab.control.stats["requests"] == 0  # nothing was sent, not even the token request
        with pytest.raises(BadRequestError, match="Invalid time value '2024-04-30' for 'completedAt'") as caught:
            await client.list_tasks(extra={"completedAt": "gt(2024-04-30)"})
    assert caught.value.status == 400


async def test_token_expiry_and_revocation_are_handled(acronis_lab: LabServer) -> None:
    backend, stats = acronis_lab.app.state.backend, acronis_lab.control.stats
    async with lab_client_for(acronis_lab) as client:
        await client.check_connection()
        await client.check_connection()
        assert backend.token_requests == 1  # cached
        backend.revoke_tokens()  # the server forgets the token the client still trusts
        before = stats["requests"]
        await client.check_connection()
        assert backend.token_requests == 2
        assert stats["requests"] - before == 3  # 401, token, retry: refreshed once on the 401
        acronis_lab.control.set_faults(FaultConfig(token_ttl_seconds=1))
        backend.revoke_tokens()
        await client.check_connection()  # 401 -> a token that lives one second
        assert backend.token_requests == 3
        await asyncio.sleep(1.05)
        before = stats["requests"]
        await client.check_connection()
        assert backend.token_requests == 4
        assert stats["requests"] - before == 2  # token, call: refreshed on time, before any 401


async def test_wrong_credentials_are_an_authentication_error(acronis_lab: LabServer) -> None:
    async with AcronisClient(acronis_lab.base_url, "lab-acronis-client", "not-the-lab-value") as client:
        with pytest.raises(AuthenticationError, match="Invalid client credentials"):
            await client.check_connection()


async def test_transient_faults_are_retried(acronis_lab: LabServer) -> None:
    acronis_lab.control.set_faults(FaultConfig(errors={503: 0.3}, retry_after_seconds=None, seed=7))
    async with lab_client_for(acronis_lab) as client:
        ids = [t.id async for t in client.iter_tasks(page_size=25, max_items=120)]
    assert len(ids) == len(set(ids)) == 120
    assert acronis_lab.control.stats["injected_503"] > 0


async def test_updated_at_watermark_picks_up_progress(lab_client: AcronisClient, acronis_lab: LabServer) -> None:
    backend = acronis_lab.app.state.backend
    async with lab_client as client:
        running = {t.id async for t in client.iter_tasks(state=["enqueued", "assigned", "started"])}
        before = [t async for t in client.iter_tasks(page_size=200)]
        latest = max(t.updated_at for t in before if t.updated_at)
        backend.advance(2 * 3600)
        changed = [t async for t in client.iter_tasks(updated_at=TimeFilter.after(latest), order="asc(updatedAt)")]
    assert running and changed
    assert all(t.updated_at and t.updated_at >= latest for t in changed)
    # the watermark is truncated to microseconds: the boundary item may repeat (dedup by id), never go missing
    boundary = {t.id for t in changed if t.updated_at == latest}
    assert boundary <= {t.id for t in before if t.updated_at == latest}
    finished = {t.id for t in changed if t.is_completed} & running
    assert finished  # tasks that were running when the watermark was taken have completed since
