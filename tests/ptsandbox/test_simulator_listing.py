"""PT Sandbox emulator: the UI task listing, its query language, cursors and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from prefect_soar.simulators.ptsandbox_data import CSV_COLUMNS, VERDICT_RANK, TaskRow

from .sim_helpers import API_HEADERS, SIM_NOW, all_task_ids, example, make_app, shape_mismatch, ui_client

NOW = SIM_NOW.timestamp()
DAY = 86400.0


@pytest.fixture(scope="module")
def app() -> Any:
    return make_app(task_count=300)


@pytest.fixture
async def ui(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    app.state.lab.reset()
    async for client in ui_client(app):
        yield client


def rows(app: Any) -> list[TaskRow]:
    return list(app.state.backend.seeded)


def expected(app: Any, keep: Callable[[TaskRow], bool], key: Callable[[TaskRow], Any] | None = None) -> list[str]:
    """Ids the emulator should return, newest first by default (ties by id)."""
    chosen = [row for row in rows(app) if keep(row)]
    if key is None:
        chosen.sort(key=lambda r: r.id)
        chosen.sort(key=lambda r: r.start, reverse=True)
    else:
        chosen.sort(key=key)
    return [row.id for row in chosen]


async def test_data_set_is_deterministic_and_mixed(app: Any) -> None:
    again = make_app(task_count=300).state.backend.seeded
    assert [r.id for r in again] == [r.id for r in rows(app)]
    assert {r.threat_level for r in rows(app)} == {"CLEAN", "UNWANTED", "DANGEROUS", "UNKNOWN"}
    assert len({r.entry_point.type for r in rows(app)}) >= 6
    assert {r.object_type for r in rows(app)} >= {"FILE", "URL", "EMAIL", "ARCHIVE"}
    starts = [r.start for r in rows(app)]
    assert min(starts) >= NOW - 30 * DAY and max(starts) <= NOW and max(starts) - min(starts) > 25 * DAY
    other_seed = make_app(task_count=300, seed=7).state.backend.seeded
    assert other_seed[0].id != rows(app)[0].id


async def test_listing_shape_matches_the_reference_example(ui: httpx.AsyncClient) -> None:
    page = await ui.get("/api/ui/v2/tasks", params={"query": "entryPoint.type IN (PUBLIC_API, WEB)", "limit": 200})
    body = page.json()
    assert set(body) == {"tasks", "currentCursor", "nextCursor"}  # un-wrapped, no total
    assert shape_mismatch(example("ui_tasks.json"), body) is None
    task = body["tasks"][0]
    assert task["start"].endswith("Z") and isinstance(task["startTime"], float)


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("verdict = DANGEROUS", lambda r: r.threat_level == "DANGEROUS"),
        ("threatLevel != clean", lambda r: r.threat_level != "CLEAN"),
        ("task.correlated.threatLevel = UNWANTED", lambda r: r.threat_level == "UNWANTED"),
        ("start >= 2025-03-10T00:00:00", lambda r: r.start >= NOW - 4.5 * DAY),
        ("start > 2025-03-10T00:00:00Z", lambda r: r.start > NOW - 4.5 * DAY),
        ("start < 2025-03-10", lambda r: r.start < NOW - 4.5 * DAY),
        ("start <= '2025-03-10T00:00:00'", lambda r: r.start <= NOW - 4.5 * DAY),
        ("(start >= 2025-03-01T00:00:00 AND start <= 2025-03-05T00:00:00)",
         lambda r: NOW - 13.5 * DAY <= r.start <= NOW - 9.5 * DAY),
        ("age < 7d", lambda r: r.start > NOW - 7 * DAY),
        ("age >= 48h", lambda r: r.start <= NOW - 2 * DAY),
        ("age > 600m AND age <= 1w", lambda r: NOW - 7 * DAY <= r.start < NOW - 36000),
        ("age < 30d AND (task.correlated.state != UNKNOWN ) ORDER BY start desc",
         lambda r: r.start > NOW - 30 * DAY and r.state != "UNKNOWN"),
        ("sandbox.state IN (UNSCANNED, PARTIAL, FULL)", lambda r: r.sandbox),
        ("task.sandbox.correlated.state = UNKNOWN AND task.correlated.state IN (FULL,UNSCANNED,PARTIAL)",
         lambda r: not r.sandbox and r.state != "UNKNOWN"),
        ("verdict = DANGEROUS OR verdict = UNWANTED AND entryPoint.type = WEB",  # AND binds tighter
         lambda r: r.threat_level == "DANGEROUS" or (r.threat_level == "UNWANTED" and r.entry_point.type == "WEB")),
        ("(verdict = DANGEROUS OR verdict = UNWANTED) AND entryPoint.type = WEB",
         lambda r: r.threat_level in ("DANGEROUS", "UNWANTED") and r.entry_point.type == "WEB"),
        ("entryPoint.type NOT IN (WEB, ICAP) and not verdict = CLEAN",
         lambda r: r.entry_point.type not in ("WEB", "ICAP") and r.threat_level != "CLEAN"),
        ("objectType = URL AND name > 'https://f'", lambda r: r.object_type == "URL" and r.name > "https://f"),
        ("duration < 30", lambda r: r.duration < 30),
    ],
)
async def test_query_language_filters(app: Any, ui: httpx.AsyncClient, query: str, keep: Any) -> None:
    want = expected(app, keep)
    assert want, "the data set should have matches for every filter"
    assert await all_task_ids(ui, query) == want


async def test_name_and_id_equality(app: Any, ui: httpx.AsyncClient) -> None:
    row = rows(app)[17]
    assert await all_task_ids(ui, f'name = "{row.name}" AND id = {row.id}') == [row.id]
    assert await all_task_ids(ui, f"id IN ({rows(app)[1].id}, {row.id})") == expected(
        app, lambda r: r.id in (rows(app)[1].id, row.id)
    )


async def test_utc_offset_moves_naive_datetime_literals(app: Any, ui: httpx.AsyncClient) -> None:
    query = "start >= 2025-03-10T00:00:00"
    shifted = await all_task_ids(ui, query, utcOffsetSeconds=3 * 3600)
    assert shifted == expected(app, lambda r: r.start >= NOW - 4.5 * DAY - 3 * 3600)


@pytest.mark.parametrize(
    ("order", "key"),
    [
        ("ORDER BY name ASC", lambda r: (r.name, r.id)),
        ("order by Start asc", lambda r: (r.start, r.id)),
        ("ORDER BY age", lambda r: (-r.start, r.id)),
        ("ORDER BY verdict DESC, start ASC", lambda r: (-VERDICT_RANK[r.threat_level], r.start, r.id)),
        ("ORDER BY entryPoint.type, duration DESC", lambda r: (r.entry_point.type, -r.duration, r.id)),
    ],
)
async def test_order_by(app: Any, ui: httpx.AsyncClient, order: str, key: Any) -> None:
    assert await all_task_ids(ui, order, limit=37) == expected(app, lambda r: True, key)


async def test_order_by_text_descending(app: Any, ui: httpx.AsyncClient) -> None:
    got = await all_task_ids(ui, "verdict = CLEAN ORDER BY name DESC", limit=9)
    by_id = {r.id: r for r in rows(app)}
    names = [by_id[task_id].name for task_id in got]
    assert names == sorted(names, reverse=True)
    assert sorted(got) == sorted(expected(app, lambda r: r.threat_level == "CLEAN"))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("verdict = ", "expected a value"),
        ("verdict == DANGEROUS", "expected a value"),
        ("foo = 1", "unknown field 'foo'"),
        ("verdict = BAD", "unknown value 'BAD'"),
        ("age < 7x", "duration"),
        ("name = 'open", "unterminated string"),
        ("verdict < CLEAN", "not supported"),
        ("(verdict = CLEAN", "expected ')'"),
        ("verdict = CLEAN verdict = CLEAN", "unexpected 'verdict'"),
        ("start > yesterday", "ISO 8601"),
        ("ORDER BY", "field name"),
        ("age IN (1d)", "IN is not supported"),
        ("verdict = CLEAN ORDER BY nope", "unknown field 'nope'"),
        ("name @ x", "unexpected character '@'"),
    ],
)
async def test_bad_queries_answer_400_with_a_message(ui: httpx.AsyncClient, query: str, message: str) -> None:
    answer = await ui.get("/api/ui/v2/tasks", params={"query": query})
    assert answer.status_code == 400
    error = answer.json()["errors"][0]
    assert error["type"] == "HTTPBadRequest" and error["message"].startswith("Invalid query")
    assert message in error["message"]


async def test_cursor_paging_is_complete_without_duplicates(app: Any, ui: httpx.AsyncClient) -> None:
    want = expected(app, lambda r: True)
    got = await all_task_ids(ui, "", limit=7)
    assert got == want and len(set(got)) == len(got) == 300


async def test_offset_counts_from_the_cursor(app: Any, ui: httpx.AsyncClient) -> None:
    want = expected(app, lambda r: r.threat_level != "CLEAN")
    query = "verdict != CLEAN"
    first = (await ui.get("/api/ui/v2/tasks", params={"query": query, "limit": 5})).json()
    assert [t["id"] for t in first["tasks"]] == want[:5] and first["nextCursor"]
    assert first["currentCursor"] and first["currentCursor"] != first["nextCursor"]
    skipped = (await ui.get("/api/ui/v2/tasks", params={
        "query": query, "limit": 4, "offset": 3, "nextCursor": first["nextCursor"]})).json()
    assert [t["id"] for t in skipped["tasks"]] == want[8:12]
    assert skipped["currentCursor"] == first["nextCursor"]
    no_cursor = (await ui.get("/api/ui/v2/tasks", params={"query": query, "limit": 4, "offset": 3})).json()
    assert [t["id"] for t in no_cursor["tasks"]] == want[3:7]
    last = (await ui.get("/api/ui/v2/tasks", params={"query": query, "limit": 200, "offset": len(want) - 2})).json()
    assert len(last["tasks"]) == 2 and last["nextCursor"] == ""


async def test_listing_stays_stable_while_new_tasks_arrive(app: Any, ui: httpx.AsyncClient) -> None:
    for order in ("", "ORDER BY name ASC"):
        want = await all_task_ids(ui, order)
        first = (await ui.get("/api/ui/v2/tasks", params={"query": order, "limit": 50})).json()
        seen = [t["id"] for t in first["tasks"]]
        cursor = first["nextCursor"]
        new_ids = []
        while cursor:
            for name in ("https://aaa.example/", "https://mmm.example/"):
                created = await ui.post("/api/v1/analysis/createScanURLTask", headers=API_HEADERS,
                                        json={"url": name, "async_result": True})
                new_ids.append(created.json()["data"]["scan_id"])
            page = (await ui.get("/api/ui/v2/tasks", params={"query": order, "limit": 50, "nextCursor": cursor})).json()
            seen.extend(t["id"] for t in page["tasks"])
            cursor = page["nextCursor"]
        assert len(seen) == len(set(seen)), "a task was listed twice"
        assert set(want) <= set(seen), "a task was skipped"
        assert set(seen) - set(want) <= set(new_ids)
        app.state.lab.reset()


async def test_bad_cursors_and_limits(ui: httpx.AsyncClient) -> None:
    first = (await ui.get("/api/ui/v2/tasks", params={"query": "verdict = CLEAN", "limit": 2})).json()
    other = await ui.get("/api/ui/v2/tasks", params={"query": "verdict = DANGEROUS", "nextCursor": first["nextCursor"]})
    assert other.status_code == 400 and "another query" in other.json()["errors"][0]["message"]
    garbage = await ui.get("/api/ui/v2/tasks", params={"nextCursor": "%%%not-base64"})
    assert garbage.status_code == 400 and "cursor" in garbage.json()["errors"][0]["message"]
    for params in ({"limit": 201}, {"limit": -1}, {"offset": 10001}, {"limit": "ten"}):
        answer = await ui.get("/api/ui/v2/tasks", params=params)
        assert answer.status_code == 400 and answer.json()["errors"][0]["type"] == "HTTPBadRequest"


async def test_csv_export_with_chosen_columns(app: Any, ui: httpx.AsyncClient) -> None:
    query = "verdict = DANGEROUS ORDER BY name"
    answer = await ui.get("/api/ui/v2/tasks/export", params={
        "format": "CSV", "query": query, "columns": "taskName,verdict,time,source", "utcOffsetSeconds": 3600})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(answer.text)))
    assert table[0] == ["taskName", "verdict", "time", "source"]
    want = expected(app, lambda r: r.threat_level == "DANGEROUS", lambda r: (r.name, r.id))
    by_id = {r.id: r for r in rows(app)}
    assert [line[0] for line in table[1:]] == [by_id[i].name for i in want]
    assert {line[1] for line in table[1:]} == {"DANGEROUS"}
    assert all(line[2].endswith("+01:00") for line in table[1:])
    assert table[1][3] == by_id[want[0]].entry_point.name


async def test_csv_export_defaults_and_errors(ui: httpx.AsyncClient) -> None:
    everything = await ui.get("/api/ui/v2/tasks/export", params={"format": "CSV", "columns": ""})
    table = list(csv.reader(io.StringIO(everything.text)))
    assert table[0] == list(CSV_COLUMNS) and len(table) == 301
    unknown = await ui.get("/api/ui/v2/tasks/export", params={"format": "CSV", "columns": "taskName,bogus"})
    assert unknown.status_code == 400 and "bogus" in unknown.json()["errors"][0]["message"]
    assert (await ui.get("/api/ui/v2/tasks/export", params={"format": "JSON"})).status_code == 400
    assert (await ui.get("/api/ui/v2/tasks/export", params={"query": "verdict ="})).status_code == 400


async def test_a_large_lab_pages_quickly() -> None:
    big = make_app(task_count=10_000)
    async for client in ui_client(big):
        ids = await all_task_ids(client, "age < 30d AND (task.correlated.state != UNKNOWN ) ORDER BY start desc")
    assert len(ids) == len(set(ids)) == sum(1 for r in big.state.backend.seeded if r.state != "UNKNOWN")
