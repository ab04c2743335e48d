"""The public API (detonation path): exact requests, retry safety, envelopes and report polling."""

from __future__ import annotations

import httpx
import pytest

from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.errors import BadInputError, BadRequestError, NotFoundError, ServerError, WaitTimeoutError
from prefect_soar.models.ptsandbox import ScanOptions, Verdict

from .helpers import API_KEY, BASE, FAST, SCAN_ID, assert_api_request, json_body

V1 = f"{BASE}/api/v1"
FILE_URI = "sfm-files:///2025-03-14-10/5d0f/9a1b"
DEFAULT_OPTIONS = {
    "analysis_depth": 2, "scan_timeout": 1200, "max_execution_time": 3600, "passwords_for_unpack": [],
    "cache_enabled": False, "url_extract_enabled": True, "enable_experimental_yara_rules": False,
    "mark_dangerous_files_options": {"apk_tampered": True},
    "sandbox": {"enabled": True, "image_id": "win7-sp1-x64", "analysis_duration": 120, "bootkitmon": False,
                "analysis_duration_bootkitmon": 60, "save_video": False, "mitm_enabled": False,
                "procdump_new_processes_on_finish": False, "debug_options": {"save_debug_files": False}},
}
RESULT = {"scan_state": "FULL", "duration": 131.2, "duration_full": 133.0, "verdict": "DANGEROUS",
          "threat": "Trojan-Downloader.Win32.Agent", "errors": []}


def envelope(data: object, errors: list | None = None) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "errors": errors or []})


@pytest.fixture
async def client():
    async with PTSandboxClient(BASE, api_key=API_KEY, retry=FAST) as sandbox:
        yield sandbox


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "invoice.docm"
    path.write_bytes(b"PK\x03\x04 macro document " * 4096)
    return path


async def test_scan_file_uploads_the_raw_body_then_creates_the_task(client, respx_mock, sample):
    upload = respx_mock.post(f"{V1}/storage/uploadScanFile").mock(
        return_value=envelope({"file_uri": FILE_URI, "ttl": 3600})
    )
    create = respx_mock.post(f"{V1}/analysis/createScanTask").mock(return_value=envelope({"scan_id": SCAN_ID}))

    created = await client.scan_file(sample)

    sent = upload.calls.last.request
    assert_api_request(sent, "POST", f"{V1}/storage/uploadScanFile")
    assert sent.headers["Content-Type"] == "application/octet-stream"
    assert sent.headers["Content-Length"] == str(sample.stat().st_size)
    assert "Transfer-Encoding" not in sent.headers
    assert sent.content == sample.read_bytes()
    assert_api_request(
        create.calls.last.request, "POST", f"{V1}/analysis/createScanTask",
        {"file_uri": FILE_URI, "file_name": "invoice.docm", "short_result": False, "async_result": True,
         "priority": 3, "options": DEFAULT_OPTIONS},
    )
    assert str(created.scan_id) == SCAN_ID


async def test_scan_file_options_drop_none_fields(client, respx_mock, sample):
    respx_mock.post(f"{V1}/storage/uploadScanFile").mock(return_value=envelope({"file_uri": FILE_URI, "ttl": 60}))
    create = respx_mock.post(f"{V1}/analysis/createScanTask").mock(return_value=envelope({"scan_id": SCAN_ID}))
    options = ScanOptions(passwords_for_unpack=["infected"], sandbox={"image_id": "win10-1803-x64",
                                                                      "analysis_duration": 60})
    await client.scan_file(sample, file_name="renamed.bin", priority=4, options=options)
    body = json_body(create.calls.last.request)
    assert body["file_name"] == "renamed.bin" and body["priority"] == 4
    assert body["options"]["passwords_for_unpack"] == ["infected"]
    assert body["options"]["sandbox"]["image_id"] == "win10-1803-x64"
    assert "custom_command" not in body["options"]["sandbox"]
    assert "mark_suspicious_files_options" not in body["options"]


async def test_create_scan_task_is_not_retried_on_503(client, respx_mock, sample):
    respx_mock.post(f"{V1}/storage/uploadScanFile").mock(return_value=envelope({"file_uri": FILE_URI, "ttl": 60}))
    create = respx_mock.post(f"{V1}/analysis/createScanTask").mock(
        return_value=httpx.Response(503, headers={"Retry-After": "0"}, json={"data": {}, "errors": []})
    )
    with pytest.raises(ServerError):
        await client.scan_file(sample)
    assert create.call_count == 1  # a repeat could create a duplicate task


async def test_create_scan_task_is_retried_when_the_connection_never_opened(client, respx_mock, sample):
    respx_mock.post(f"{V1}/storage/uploadScanFile").mock(return_value=envelope({"file_uri": FILE_URI, "ttl": 60}))
    create = respx_mock.post(f"{V1}/analysis/createScanTask").mock(
        side_effect=[httpx.ConnectError("connection refused"), envelope({"scan_id": SCAN_ID})]
    )
    assert str((await client.scan_file(sample)).scan_id) == SCAN_ID
    assert create.call_count == 2


async def test_upload_retry_after_connect_error_resends_the_whole_file(client, respx_mock, sample):
    upload = respx_mock.post(f"{V1}/storage/uploadScanFile").mock(
        side_effect=[httpx.ConnectError("refused"), envelope({"file_uri": FILE_URI, "ttl": 60})]
    )
    uploaded = await client.upload_file(sample)
    assert uploaded.file_uri == FILE_URI
    assert upload.calls.last.request.content == sample.read_bytes()


async def test_unknown_file_uri_404_carries_the_vendor_message(client, respx_mock, sample):
    respx_mock.post(f"{V1}/storage/uploadScanFile").mock(return_value=envelope({"file_uri": FILE_URI, "ttl": 60}))
    respx_mock.post(f"{V1}/analysis/createScanTask").mock(
        return_value=httpx.Response(
            404, json={"data": {}, "errors": [{"type": "HTTPNotFound", "message": f'File "{FILE_URI}" not found'}]}
        )
    )
    with pytest.raises(NotFoundError, match="not found") as info:
        await client.scan_file(sample)
    assert info.value.status == 404 and API_KEY not in str(info.value)


async def test_envelope_errors_with_http_200_and_no_data_raise(client, respx_mock):
    respx_mock.post(f"{V1}/analysis/createScanURLTask").mock(
        return_value=envelope({}, [{"type": "internal", "message": "queue is full"}])
    )
    with pytest.raises(BadRequestError, match="internal: queue is full"):
        await client.scan_url("https://example.org/")


async def test_scan_url_sends_the_url_request(client, respx_mock):
    route = respx_mock.post(f"{V1}/analysis/createScanURLTask").mock(return_value=envelope({"scan_id": SCAN_ID}))
    await client.scan_url("https://evil.example/payload", priority=2, short_result=True)
    assert_api_request(
        route.calls.last.request, "POST", f"{V1}/analysis/createScanURLTask",
        {"url": "https://evil.example/payload", "short_result": True, "async_result": True, "priority": 2,
         "options": DEFAULT_OPTIONS},
    )


async def test_check_task_and_get_report_are_read_only_posts_that_retry(client, respx_mock):
    check = respx_mock.post(f"{V1}/analysis/checkTask").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "0"}),
                     envelope({"scan_id": SCAN_ID, "is_preflight": False, "result": RESULT})]
    )
    report = respx_mock.post(f"{V1}/analysis/report").mock(
        side_effect=[httpx.Response(502), envelope({"scan_id": SCAN_ID, "result": RESULT, "artifacts": []})]
    )
    status = await client.check_task(SCAN_ID)
    full = await client.get_report(SCAN_ID)
    assert_api_request(check.calls.last.request, "POST", f"{V1}/analysis/checkTask",
                       {"scan_id": SCAN_ID, "allow_preflight": True})
    assert_api_request(report.calls.last.request, "POST", f"{V1}/analysis/report", {"scan_id": SCAN_ID})
    assert check.call_count == 2 and report.call_count == 2
    assert status.is_done and full.is_long and full.verdict == Verdict.DANGEROUS


async def test_wait_for_report_skips_preflight_and_returns_the_long_report(client, respx_mock):
    check = respx_mock.post(f"{V1}/analysis/checkTask").mock(
        side_effect=[
            envelope({"scan_id": SCAN_ID, "is_preflight": True}),
            envelope({"scan_id": SCAN_ID, "is_preflight": False,
                      "result": {**RESULT, "scan_state": "PARTIAL", "verdict": None}}),
            envelope({"scan_id": SCAN_ID, "is_preflight": False, "result": RESULT}),
        ]
    )
    report = respx_mock.post(f"{V1}/analysis/report").mock(
        side_effect=[envelope({"scan_id": SCAN_ID}),
                     envelope({"scan_id": SCAN_ID, "result": RESULT, "artifacts": []})]
    )
    final = await client.wait_for_report(SCAN_ID, timeout=5, poll=0.01)
    assert final.is_long and final.result is not None and final.result.threat == RESULT["threat"]
    assert check.call_count == 3 and report.call_count == 2  # no report asked during preflight


async def test_wait_for_report_times_out_with_the_last_state(client, respx_mock):
    respx_mock.post(f"{V1}/analysis/checkTask").mock(
        return_value=envelope({"scan_id": SCAN_ID, "is_preflight": False,
                               "result": {**RESULT, "scan_state": "PARTIAL"}})
    )
    respx_mock.post(f"{V1}/analysis/report").mock(return_value=envelope({"scan_id": SCAN_ID}))
    with pytest.raises(WaitTimeoutError, match="last state: PARTIAL"):
        await client.wait_for_report(SCAN_ID, timeout=0.05, poll=0.01)


async def test_get_version_is_the_connectivity_probe(client, respx_mock):
    route = respx_mock.get(f"{V1}/maintenance/getVersion").mock(
        return_value=envelope({"version": "5.11.0.12345", "edition": ""})
    )
    assert (await client.check_connection()) == {"public_api": "5.11.0.12345"}
    assert_api_request(route.calls.last.request, "GET", f"{V1}/maintenance/getVersion")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, f: c.scan_file(f.parent / "missing.exe"), "not a readable file"),
        (lambda c, f: c.scan_file(f, priority=5), "priority"),
        (lambda c, f: c.scan_file(f, options={"scan_timeout": 5}), "scan_timeout"),
        (lambda c, f: c.scan_url("not a url"), "url must be"),
        (lambda c, f: c.scan_url("javascript:alert(1)"), "url must be"),
        (lambda c, f: c.check_task("123"), "scan_id"),
        (lambda c, f: c.wait_for_report(SCAN_ID, timeout=0), "timeout"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(client, respx_mock, sample, call, message):
    with pytest.raises(BadInputError, match=message):
        await call(client, sample)
    assert not respx_mock.calls
