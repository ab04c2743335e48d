"""PT Sandbox emulator: the public API scan lifecycle, envelopes, per-key isolation, lab reset."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from prefect_soar.simulators.ptsandbox import create_app

from .sim_helpers import API_HEADERS, SIM_NOW, all_task_ids, asgi_client, example, shape_mismatch, ui_login

OTHER_KEY = "second-team-key"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app({"task_count": 20, "scan_seconds": 0.3, "now": SIM_NOW, "extra_api_keys": [OTHER_KEY]})


@pytest.fixture
async def api(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    app.state.lab.reset()
    async with asgi_client(app) as client:
        client.headers.update(API_HEADERS)
        yield client


async def upload(api: httpx.AsyncClient, content: bytes, **headers: str) -> str:
    answer = await api.post("/api/v1/storage/uploadScanFile", content=content, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["file_uri"])


async def scan_file(api: httpx.AsyncClient, content: bytes, name: str = "sample.exe", **body: Any) -> str:
    file_uri = await upload(api, content)
    answer = await api.post("/api/v1/analysis/createScanTask", json={"file_uri": file_uri, "file_name": name,
                                                                      "async_result": True, **body})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["scan_id"])


async def wait_full(api: httpx.AsyncClient, scan_id: str) -> dict[str, Any]:
    for _ in range(100):
        check = (await api.post("/api/v1/analysis/checkTask", json={"scan_id": scan_id, "allow_preflight": True}))
        data = check.json()["data"]
        if not data.get("is_preflight") and data["result"]["scan_state"] == "FULL":
            return data  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError("scan never finished")


async def test_upload_answers_a_temporary_file_uri(api: httpx.AsyncClient) -> None:
    answer = await api.post("/api/v1/storage/uploadScanFile", content=b"abc")
    body = answer.json()
    assert shape_mismatch(example("api_upload.json"), body) is None and body["errors"] == []
    assert body["data"]["file_uri"].startswith("sfm-files:///2025-03-14-12/") and body["data"]["ttl"] == 3600


async def test_upload_refuses_chunked_and_empty_bodies(api: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"part-1"
        yield b"part-2"

    chunked = await api.post("/api/v1/storage/uploadScanFile", content=chunks())
    assert chunked.status_code == 411 and chunked.json()["errors"][0]["type"] == "HTTPLengthRequired"
    empty = await api.post("/api/v1/storage/uploadScanFile", content=b"")
    assert empty.status_code == 400


@pytest.fixture
def slow_scans(app: Any) -> Any:
    """Scans take 0.8 s, so a slow machine still sees the early states."""
    app.state.backend.settings.scan_seconds = 0.8
    yield
    app.state.backend.settings.scan_seconds = 0.3


@pytest.mark.usefixtures("slow_scans")
async def test_scan_lifecycle_preflight_partial_full_and_long_report(api: httpx.AsyncClient) -> None:
    started = time.monotonic()
    file_uri = await upload(api, b"MZ... MALWARE dropper")
    created = await api.post("/api/v1/analysis/createScanTask", json={
        "file_uri": file_uri, "file_name": "invoice.docm", "async_result": True, "short_result": False, "priority": 3,
        "options": {"sandbox": {"enabled": True, "analysis_duration": 120}}})
    assert shape_mismatch(example("api_create_scan_async.json"), created.json()) is None
    scan_id = created.json()["data"]["scan_id"]
    preflight = (await api.post("/api/v1/analysis/checkTask", json={"scan_id": scan_id, "allow_preflight": True}))
    assert preflight.json() == {"data": {"scan_id": scan_id, "is_preflight": True}, "errors": []}
    early = (await api.post("/api/v1/analysis/checkTask", json={"scan_id": scan_id, "allow_preflight": True})).json()
    assert early["data"]["is_preflight"] is False and early["data"]["result"]["scan_state"] in ("UNSCANNED", "PARTIAL")
    assert "verdict" not in early["data"]["result"]
    short = (await api.post("/api/v1/analysis/report", json={"scan_id": scan_id})).json()
    assert short == {"data": {"scan_id": scan_id}, "errors": []}

    done = await wait_full(api, scan_id)
    assert time.monotonic() - started >= 0.8
    assert shape_mismatch(example("api_check_task.json"), {"data": done, "errors": []}) is None
    assert done["result"]["verdict"] == "DANGEROUS" and done["result"]["threat"]
    report = (await api.post("/api/v1/analysis/report", json={"scan_id": scan_id})).json()
    assert shape_mismatch(example("api_report.json"), report) is None
    artifact = report["data"]["artifacts"][0]
    assert artifact["network_objects"] == [] and artifact["file_info"]["size"] == len(b"MZ... MALWARE dropper")
    subsystems = {e["engine_subsystem"] for e in artifact["engine_results"]}
    assert subsystems == {"AV", "SANDBOX"}

    raw = await api.post("/api/v1/storage/downloadArtifact", json={"file_uri": artifact["file_info"]["file_uri"]})
    assert raw.status_code == 200 and raw.content == b"MZ... MALWARE dropper"
    sandbox = next(e for e in artifact["engine_results"] if e["engine_subsystem"] == "SANDBOX")
    log = sandbox["details"]["sandbox"]["logs"][0]
    pcap = await api.post("/api/v1/storage/downloadArtifact", json={"file_uri": log["file_uri"]})
    assert pcap.status_code == 200 and pcap.headers["content-type"] == "application/octet-stream" and pcap.content
    missing = await api.post("/api/v1/storage/downloadArtifact", json={"file_uri": "sha256:" + "0" * 64})
    assert missing.status_code == 404 and missing.json()["errors"][0]["type"] == "HTTPNotFound"
    assert (await api.post("/api/v1/storage/downloadArtifact", json={"file_uri": "md5:x"})).status_code == 400


@pytest.mark.parametrize(
    ("content", "verdict"),
    [
        (b"just a text file", "CLEAN"),
        (b"prefix " + EICAR + b" suffix", "DANGEROUS"),
        (b"an UNWANTED miner", "UNWANTED"),
    ],
)
async def test_verdicts_are_deterministic(app: Any, api: httpx.AsyncClient, content: bytes, verdict: str) -> None:
    app.state.backend.settings.scan_seconds = 0
    try:
        scan_id = await scan_file(api, content)
        data = (await api.post("/api/v1/analysis/checkTask", json={"scan_id": scan_id, "allow_preflight": True}))
        assert data.json()["data"]["result"]["verdict"] == verdict
    finally:
        app.state.backend.settings.scan_seconds = 0.3


async def test_url_scans(app: Any, api: httpx.AsyncClient) -> None:
    for url, verdict in (("http://evil.example/login", "DANGEROUS"), ("https://example.org/", "CLEAN")):
        created = await api.post("/api/v1/analysis/createScanURLTask", json={"url": url, "async_result": True})
        scan_id = created.json()["data"]["scan_id"]
        done = await wait_full(api, scan_id)
        assert done["result"]["verdict"] == verdict
        report = (await api.post("/api/v1/analysis/report", json={"scan_id": scan_id})).json()
        assert report["data"]["artifacts"][0]["type"] == "URL"
    assert (await api.post("/api/v1/analysis/createScanURLTask", json={"url": "not a url"})).status_code == 400


async def test_sync_scan_returns_the_long_report_directly(api: httpx.AsyncClient) -> None:
    file_uri = await upload(api, b"clean bytes")
    started = time.monotonic()
    answer = await api.post("/api/v1/analysis/createScanTask", json={"file_uri": file_uri, "async_result": False})
    assert time.monotonic() - started >= 0.3
    data = answer.json()["data"]
    assert data["result"]["scan_state"] == "FULL" and data["result"]["verdict"] == "CLEAN" and data["artifacts"]


async def test_debug_surface_ba_scan_and_headers(api: httpx.AsyncClient) -> None:
    file_uri = await upload(api, b"MALWARE")
    answer = await api.post("/api/debug/analysis/createBAScanTask", json={
        "file_uri": file_uri, "async_result": True, "options": {"sandbox": {"skip_sample_run": False}}})
    assert answer.status_code == 200 and answer.json()["data"]["scan_id"]
    eml = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody"
    headers = await api.post("/api/debug/analysis/getHeaders", content=eml)
    assert headers.content == b"From: a@example.org\nSubject: hi\n"


async def test_scan_errors_use_the_public_envelope(api: httpx.AsyncClient) -> None:
    unknown = await api.post("/api/v1/analysis/createScanTask", json={"file_uri": "sfm-files:///x/y/z"})
    assert unknown.status_code == 404
    assert unknown.json() == {"data": {}, "errors": [
        {"type": "HTTPNotFound", "message": 'File "sfm-files:///x/y/z" not found'}]}
    file_uri = await upload(api, b"x")
    cases = [
        ("/api/v1/analysis/createScanTask", {"file_uri": file_uri, "priority": 9}),
        ("/api/v1/analysis/createScanTask", {}),
        ("/api/v1/analysis/createScanTask", {"file_uri": file_uri, "options": {"sandbox": {"analysis_duration": 5}}}),
        ("/api/v1/analysis/checkTask", {"scan_id": "nope"}),
        ("/api/v1/analysis/report", {}),
        ("/api/v1/analysis/listTasks", {"limit": "20"}),
    ]
    for path, body in cases:
        answer = await api.post(path, json=body)
        assert answer.status_code == 400, (path, body)
        assert answer.json()["data"] == {} and answer.json()["errors"][0]["type"] == "HTTPBadRequest"
    not_json = await api.post("/api/v1/analysis/checkTask", content=b"{oops")
    assert not_json.status_code == 400 and "JSON" in not_json.json()["errors"][0]["message"]
    gone = await api.post("/api/v1/analysis/checkTask", json={"scan_id": "00000000-0000-4000-8000-000000000000"})
    assert gone.status_code == 404
    route = await api.get("/api/v1/no/such/route")
    assert route.status_code == 404 and route.json()["data"] == {}


async def test_each_key_sees_only_its_own_tasks_and_files(api: httpx.AsyncClient) -> None:
    scan_id = await scan_file(api, b"MALWARE sample")
    done = await wait_full(api, scan_id)
    assert done["scan_id"] == scan_id
    report = (await api.post("/api/v1/analysis/report", json={"scan_id": scan_id})).json()
    file_uri = report["data"]["artifacts"][0]["file_info"]["file_uri"]
    other = {"X-Api-Key": OTHER_KEY}
    assert (await api.post("/api/v1/analysis/report", json={"scan_id": scan_id}, headers=other)).status_code == 404
    download = await api.post("/api/v1/storage/downloadArtifact", json={"file_uri": file_uri}, headers=other)
    assert download.status_code == 404
    listed = await api.post("/api/v1/analysis/listTasks", json={"query": "", "limit": 20}, headers=other)
    assert listed.json() == {"tasks": [], "next_cursor": ""}
    upload_uri = await upload(api, b"mine")
    stolen = await api.post("/api/v1/analysis/createScanTask", json={"file_uri": upload_uri}, headers=other)
    assert stolen.status_code == 404


async def test_list_tasks_is_top_level_and_pages(api: httpx.AsyncClient) -> None:
    ids = [await scan_file(api, f"file {n} MALWARE".encode(), name=f"s{n}.exe") for n in range(5)]
    for scan_id in ids:
        await wait_full(api, scan_id)
    first = (await api.post("/api/v1/analysis/listTasks", json={
        "query": "verdict = DANGEROUS", "limit": 3, "offset": 0, "utc_offset_seconds": 0})).json()
    assert set(first) == {"tasks", "next_cursor"} and shape_mismatch(example("api_list_tasks.json"), first) is None
    second = (await api.post("/api/v1/analysis/listTasks", json={
        "query": "verdict = DANGEROUS", "limit": 3, "next_cursor": first["next_cursor"]})).json()
    assert second["next_cursor"] == ""
    listed = [t["id"] for t in first["tasks"] + second["tasks"]]
    assert listed == list(reversed(ids))  # newest first
    assert first["tasks"][0]["entry_point_type"] == "PUBLIC_API" and first["tasks"][0]["verdict"] == "DANGEROUS"


async def test_public_tasks_appear_in_the_ui_with_summary_and_tree(app: Any, api: httpx.AsyncClient) -> None:
    scan_id = await scan_file(api, b"MALWARE in the UI", name="ui-visible.exe")
    await wait_full(api, scan_id)
    del api.headers["X-Api-Key"]
    token = await ui_login(api)
    api.headers["Authorization"] = f"Bearer {token}"
    found = await all_task_ids(api, 'name = "ui-visible.exe" AND entryPoint.type = PUBLIC_API')
    assert found == [scan_id]
    summary = (await api.get(f"/api/ui/v2/tasks/{scan_id}/summary")).json()["task"]
    assert summary["correlation"]["threatLevel"] == "DANGEROUS" and summary["entryPoint"]["id"] == "public-api"
    tree = (await api.get(f"/api/ui/v2/tasks/{scan_id}/tree")).json()
    assert tree["children"][0]["info"]["name"] == "ui-visible.exe"
    assert len(await all_task_ids(api)) == 21


async def test_lab_reset_forgets_public_tasks(app: Any, api: httpx.AsyncClient) -> None:
    scan_id = await scan_file(api, b"anything")
    reset = await api.post("/_lab/reset")
    assert reset.status_code == 200
    answer = await api.post("/api/v1/analysis/checkTask", json={"scan_id": scan_id})
    assert answer.status_code == 404
    assert len(app.state.backend.all_rows()) == 20


async def test_get_images(api: httpx.AsyncClient) -> None:
    images = (await api.post("/api/v1/engines/sandbox/getImages")).json()
    assert images["errors"] == [] and images["data"][0]["image_id"] == "win10-1803-x64"
    assert set(images["data"][0]["os"]) == {"name", "version", "architecture", "service_pack", "locale"}
