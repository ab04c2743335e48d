"""The exact request and the parsed answer of every UI API operation."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.errors import BadInputError, InvalidResponseError
from prefect_soar.models.ptsandbox import TaskSummary, Verdict

from .helpers import BASE, FAST, LOGIN, PASSWORD, SCAN_ID, assert_ui_request, mock_login

UI = f"{BASE}/api/ui"
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples" / "ptsandbox"
SHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def task(index: int, verdict: str = "DANGEROUS") -> dict:
    return {
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "name": f"sample-{index}.exe",
        "objectType": "FILE",
        "start": 1741947693.5 + index,
        "correlation": {"state": "FULL", "threatClassification": "TROJAN", "threatLevel": verdict,
                        "threatPlatform": "WINDOWS"},
        "entryPoint": {"id": "web", "type": "WEB", "status": "SUCCESS", "action": "NOTHING",
                       "quarantine": {"state": "UNKNOWN"}, "clientIp": "10.0.0.1"},
    }


@pytest.fixture
async def offline():
    """A client with UI credentials whose tests must send nothing."""
    async with PTSandboxClient(BASE, login=LOGIN, password=PASSWORD, retry=FAST) as sandbox:
        yield sandbox


@pytest.fixture
async def client(respx_mock):
    mock_login(respx_mock)
    async with PTSandboxClient(BASE, login=LOGIN, password=PASSWORD, retry=FAST) as sandbox:
        yield sandbox


async def test_get_tasks_sends_every_parameter_and_parses_the_page(client, respx_mock):
    route = respx_mock.get(f"{UI}/v2/tasks").mock(
        return_value=httpx.Response(200, json={"tasks": [task(1)], "currentCursor": "c0", "nextCursor": "c1"})
    )
    page = await client.get_tasks("age < 7d ORDER BY start desc", limit=50, offset=5, utc_offset_seconds=10800,
                                  next_cursor="c0")
    assert_ui_request(
        route.calls.last.request, "GET",
        f"{UI}/v2/tasks?query=age+%3C+7d+ORDER+BY+start+desc&limit=50&offset=5&utcOffsetSeconds=10800&nextCursor=c0",
    )
    assert page.next_cursor == "c1" and page.current_cursor == "c0"
    assert page.tasks[0].verdict == Verdict.DANGEROUS
    assert page.tasks[0].start is not None and page.tasks[0].start.year == 2025


async def test_get_tasks_leaves_next_cursor_out_when_not_given(client, respx_mock):
    route = respx_mock.get(f"{UI}/v2/tasks").mock(
        return_value=httpx.Response(200, json={"tasks": [], "currentCursor": "", "nextCursor": ""})
    )
    await client.get_tasks()
    assert dict(route.calls.last.request.url.params) == {"query": "", "limit": "20", "offset": "0",
                                                          "utcOffsetSeconds": "0"}


async def test_iter_tasks_follows_cursors_until_empty(client, respx_mock):
    pages = {
        None: {"tasks": [task(1), task(2)], "currentCursor": "", "nextCursor": "c2"},
        "c2": {"tasks": [task(3), task(4)], "currentCursor": "c2", "nextCursor": "c4"},
        "c4": {"tasks": [task(5)], "currentCursor": "c4", "nextCursor": ""},
    }
    route = respx_mock.get(f"{UI}/v2/tasks").mock(
        side_effect=lambda request: httpx.Response(200, json=pages[request.url.params.get("nextCursor")])
    )
    names = [t.name async for t in client.iter_tasks("verdict = DANGEROUS", page_size=2)]
    assert names == [f"sample-{i}.exe" for i in range(1, 6)]
    sent = [dict(call.request.url.params) for call in route.calls]
    assert sent == [
        {"query": "verdict = DANGEROUS", "limit": "2", "offset": "0", "utcOffsetSeconds": "0"},
        {"query": "verdict = DANGEROUS", "limit": "2", "offset": "0", "utcOffsetSeconds": "0", "nextCursor": "c2"},
        {"query": "verdict = DANGEROUS", "limit": "2", "offset": "0", "utcOffsetSeconds": "0", "nextCursor": "c4"},
    ]


async def test_iter_tasks_stops_at_max_items_without_reading_further(client, respx_mock):
    route = respx_mock.get(f"{UI}/v2/tasks").mock(
        return_value=httpx.Response(200, json={"tasks": [task(1), task(2), task(3)], "nextCursor": "more"})
    )
    got = [t async for t in client.iter_tasks(page_size=3, max_items=2)]
    assert len(got) == 2 and route.call_count == 1


async def test_iter_tasks_refuses_a_cursor_loop(client, respx_mock):
    respx_mock.get(f"{UI}/v2/tasks").mock(
        return_value=httpx.Response(200, json={"tasks": [task(1)], "currentCursor": "", "nextCursor": "same"})
    )
    with pytest.raises(InvalidResponseError, match="twice"):
        [t async for t in client.iter_tasks(page_size=1)]


async def test_get_tasks_csv_streams_the_export(client, respx_mock):
    csv = b"taskName,verdict\r\ninvoice.docm,DANGEROUS\r\n" * 1000
    route = respx_mock.get(f"{UI}/v2/tasks/export").mock(
        return_value=httpx.Response(200, content=csv, headers={"content-type": "text/csv"})
    )
    chunks = [c async for c in client.get_tasks_csv("age < 1d", columns=["taskName", "verdict"], utc_offset_seconds=0)]
    assert b"".join(chunks) == csv
    assert_ui_request(
        route.calls.last.request, "GET",
        f"{UI}/v2/tasks/export?format=CSV&query=age+%3C+1d&columns=taskName%2Cverdict&utcOffsetSeconds=0",
    )


async def test_download_tasks_csv_writes_a_file(client, respx_mock, tmp_path):
    respx_mock.get(f"{UI}/v2/tasks/export").mock(return_value=httpx.Response(200, content=b"a,b\r\n1,2\r\n"))
    saved = await client.download_tasks_csv(tmp_path / "exports" / "tasks.csv")
    assert saved.path == (tmp_path / "exports" / "tasks.csv").resolve()
    assert saved.path.read_bytes() == b"a,b\r\n1,2\r\n" and saved.size == 10


async def test_unknown_csv_column_is_refused_before_sending(offline, respx_mock):
    with pytest.raises(BadInputError, match="unknown CSV columns"):
        offline.get_tasks_csv(columns=["taskName", "password"])
    assert not respx_mock.calls


async def test_filter_values_sends_only_given_parameters_with_wire_names(client, respx_mock):
    body = json.loads((EXAMPLES / "ui_filter_values.json").read_text()) if EXAMPLES.is_dir() else {
        "entryPoints": [], "threatClassifications": [], "properties": [], "categories": []}
    route = respx_mock.get(f"{UI}/v2/tasks/filter-values").mock(return_value=httpx.Response(200, json=body))
    await client.get_tasks_filter_values()
    values = await client.get_tasks_filter_values(from_="2025-03-14T00:00:00", to="2025-03-15T00:00:00",
                                                  scan_id=SCAN_ID)
    assert_ui_request(route.calls[0].request, "GET", f"{UI}/v2/tasks/filter-values")
    assert_ui_request(
        route.calls[1].request, "GET",
        f"{UI}/v2/tasks/filter-values?scanId={SCAN_ID}&from=2025-03-14T00%3A00%3A00&to=2025-03-15T00%3A00%3A00",
    )
    assert isinstance(values.threat_classifications, list)


async def test_get_task_summary_parses_the_task_and_keeps_unknown_enum_values(client, respx_mock):
    body = {"task": {**task(7), "correlation": {"state": "FULL", "threatLevel": "SUSPICIOUS_NEW_LEVEL"},
                     "futureField": {"x": 1}}}
    route = respx_mock.get(f"{UI}/v2/tasks/{SCAN_ID}/summary").mock(return_value=httpx.Response(200, json=body))
    summary = await client.get_task_summary(SCAN_ID.upper())
    assert_ui_request(route.calls.last.request, "GET", f"{UI}/v2/tasks/{SCAN_ID}/summary")
    assert isinstance(summary, TaskSummary)
    assert summary.task.verdict == "SUSPICIOUS_NEW_LEVEL"
    assert summary.task.model_extra == {"futureField": {"x": 1}}


async def test_get_task_tree_sends_lists_comma_joined(client, respx_mock):
    route = respx_mock.get(f"{UI}/v2/tasks/{SCAN_ID}/tree").mock(
        return_value=httpx.Response(200, json={"children": [{"nodeId": 3, "parentIds": [0, 1, 2]}], "hasMore": True})
    )
    tree = await client.get_task_tree(SCAN_ID, parent_path=[0, 2, 10], filtered_by_ids=[0, 2, 10, 11], limit=50,
                                      offset=100, max_tree_level=1, sort_mode="ALPHABETICAL")
    await client.get_task_tree(SCAN_ID)
    assert_ui_request(
        route.calls[0].request, "GET",
        f"{UI}/v2/tasks/{SCAN_ID}/tree?limit=50&offset=100&maxTreeLevel=1&sortMode=ALPHABETICAL"
        "&parentPath=0%2C2%2C10&filteredByIds=0%2C2%2C10%2C11",
    )
    assert_ui_request(
        route.calls[1].request, "GET",
        f"{UI}/v2/tasks/{SCAN_ID}/tree?limit=1000&offset=0&maxTreeLevel=3&sortMode=DANGEROUS",
    )
    assert tree.has_more and tree.children[0].path == [0, 1, 2, 3]


async def test_get_task_artifacts_sends_string_booleans_and_skip_data_files(client, respx_mock):
    archive = b"PK\x03\x04" + b"\x00" * 2048
    route = respx_mock.get(f"{UI}/v2/tasks/{SCAN_ID}/tree/download").mock(
        return_value=httpx.Response(200, content=archive)
    )
    data = b"".join([c async for c in client.get_task_artifacts(SCAN_ID)])
    b"".join([c async for c in client.get_task_artifacts(SCAN_ID, query="verdict = DANGEROUS",
                                                          include_sandbox_logs=False, skip_data_files="true")])
    assert data == archive
    assert_ui_request(
        route.calls[0].request, "GET",
        f"{UI}/v2/tasks/{SCAN_ID}/tree/download?query=&includeSandboxLogs=true&skipDataFiles=false",
    )
    assert_ui_request(
        route.calls[1].request, "GET",
        f"{UI}/v2/tasks/{SCAN_ID}/tree/download?query=verdict+%3D+DANGEROUS&includeSandboxLogs=false"
        "&skipDataFiles=true",
    )
    assert "skip_data_files" not in str(route.calls[1].request.url)


async def test_get_task_artifact_scans_path_and_model(client, respx_mock):
    body = json.loads((EXAMPLES / "ui_scans.json").read_text()) if EXAMPLES.is_dir() else {"scans": []}
    route = respx_mock.get(f"{UI}/v2/tasks/{SCAN_ID}/artifacts/4/scans").mock(
        return_value=httpx.Response(200, json=body)
    )
    scans = await client.get_task_artifact_scans(SCAN_ID, 4)
    assert_ui_request(route.calls.last.request, "GET", f"{UI}/v2/tasks/{SCAN_ID}/artifacts/4/scans")
    assert len(scans.scans) == len(body["scans"])


async def test_get_files_sends_items_as_compact_json_with_default_names(client, respx_mock):
    archive = b"PK\x03\x04rest"
    route = respx_mock.get(f"{UI}/storage/download").mock(return_value=httpx.Response(200, content=archive))
    data = b"".join([c async for c in client.get_files([SHA, {"sha256": SHA.upper(), "name": "a.exe"}])])
    items = f'[{{"sha256":"{SHA}","name":"{SHA}"}},{{"sha256":"{SHA}","name":"a.exe"}}]'
    assert_ui_request(route.calls.last.request, "GET", f"{UI}/storage/download?items={quote(items, safe='')}")
    assert json.loads(route.calls.last.request.url.params["items"])[1] == {"sha256": SHA, "name": "a.exe"}
    assert data == archive


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_task_summary("not-a-uuid"), "scan_id must be a task UUID"),
        (lambda c: c.get_tasks(limit=201), "limit must be an integer from 0 to 200"),
        (lambda c: c.get_tasks(offset=-1), "offset"),
        (lambda c: c.get_tasks(utc_offset_seconds=10**6), "utc_offset_seconds"),
        (lambda c: c.get_task_tree(SCAN_ID, sort_mode="RANDOM"), "sort_mode"),
        (lambda c: c.get_task_tree(SCAN_ID, limit=0), "limit"),
        (lambda c: c.get_task_tree(SCAN_ID, parent_path=[0, -1]), "parent_path"),
        (lambda c: c.get_task_artifact_scans(SCAN_ID, True), "node_id"),
        (lambda c: c.download_task_artifacts(SCAN_ID, "/tmp", file_name="../escape.zip"), "file_name"),
        (lambda c: c.get_files([]), "non-empty"),
        (lambda c: c.get_files(["abc"]), "SHA-256"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(offline, respx_mock, call, message):
    with pytest.raises(BadInputError, match=message):
        result = call(offline)
        if hasattr(result, "__await__"):
            await result
    assert not respx_mock.calls
