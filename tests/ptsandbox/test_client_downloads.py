"""Downloads to disk: atomic, 0600, hashed while written, nothing left behind on failure."""

from __future__ import annotations

import hashlib
import stat

import httpx
import pytest

from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.errors import InvalidResponseError, NotFoundError, TransportError

from .helpers import BASE, FAST, LOGIN, PASSWORD, SCAN_ID, zip_bytes

DOWNLOAD = f"{BASE}/api/ui/v2/tasks/{SCAN_ID}/tree/download"
SHA = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"


class BrokenStream(httpx.AsyncByteStream):
    """A body that sends some bytes, then the connection drops."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self):
        yield self.first
        raise httpx.ReadError("peer closed connection without sending complete message body")


@pytest.fixture
async def client(respx_mock):
    from .helpers import mock_login

    mock_login(respx_mock)
    async with PTSandboxClient(BASE, login=LOGIN, password=PASSWORD, retry=FAST) as sandbox:
        yield sandbox


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


async def test_download_task_artifacts_writes_the_archive_atomically(client, respx_mock, tmp_path):
    archive = zip_bytes(b"A" * 300_000)
    route = respx_mock.get(DOWNLOAD).mock(return_value=httpx.Response(200, content=archive))
    saved = await client.download_task_artifacts(SCAN_ID, tmp_path / "cases" / "42")
    assert saved.path == (tmp_path / "cases" / "42" / f"{SCAN_ID}.zip").resolve()
    assert saved.path.read_bytes() == archive
    assert saved.size == len(archive)
    assert saved.sha256 == hashlib.sha256(archive).hexdigest()
    assert stat.S_IMODE(saved.path.stat().st_mode) == 0o600
    assert leftovers(saved.path.parent) == [f"{SCAN_ID}.zip"]
    assert str(route.calls.last.request.url).endswith("?query=&includeSandboxLogs=true&skipDataFiles=false")


async def test_download_options_and_file_name(client, respx_mock, tmp_path):
    route = respx_mock.get(DOWNLOAD).mock(return_value=httpx.Response(200, content=zip_bytes()))
    saved = await client.download_task_artifacts(
        SCAN_ID, tmp_path, query="verdict = DANGEROUS", include_sandbox_logs=False, skip_data_files=True,
        file_name="case-42.zip",
    )
    assert saved.path.name == "case-42.zip"
    assert dict(route.calls.last.request.url.params) == {
        "query": "verdict = DANGEROUS", "includeSandboxLogs": "false", "skipDataFiles": "true"
    }


async def test_a_dropped_connection_leaves_nothing_and_keeps_the_old_file(client, respx_mock, tmp_path):
    previous = tmp_path / f"{SCAN_ID}.zip"
    previous.write_bytes(b"previous good copy")
    respx_mock.get(DOWNLOAD).mock(return_value=httpx.Response(200, stream=BrokenStream(b"PK\x03\x04" + b"x" * 1000)))
    with pytest.raises(TransportError, match="peer closed"):
        await client.download_task_artifacts(SCAN_ID, tmp_path)
    assert leftovers(tmp_path) == [f"{SCAN_ID}.zip"]
    assert previous.read_bytes() == b"previous good copy"


async def test_a_body_that_is_not_a_zip_is_refused_and_removed(client, respx_mock, tmp_path):
    respx_mock.get(DOWNLOAD).mock(return_value=httpx.Response(200, text="<html>session expired</html>"))
    with pytest.raises(InvalidResponseError, match="expected a ZIP archive") as info:
        await client.download_task_artifacts(SCAN_ID, tmp_path)
    assert "session expired" in info.value.body_excerpt
    assert leftovers(tmp_path) == []


async def test_an_empty_body_is_refused(client, respx_mock, tmp_path):
    respx_mock.get(DOWNLOAD).mock(return_value=httpx.Response(200, content=b""))
    with pytest.raises(InvalidResponseError, match="got 0 bytes"):
        await client.download_task_artifacts(SCAN_ID, tmp_path)
    assert leftovers(tmp_path) == []


async def test_an_error_status_raises_before_anything_is_written(client, respx_mock, tmp_path):
    respx_mock.get(DOWNLOAD).mock(return_value=httpx.Response(404, json={"message": "task not found"}))
    with pytest.raises(NotFoundError, match="task not found"):
        await client.download_task_artifacts(SCAN_ID, tmp_path)
    assert leftovers(tmp_path) == []


async def test_download_files_saves_the_storage_zip(client, respx_mock, tmp_path):
    archive = zip_bytes(b"pcap bytes")
    route = respx_mock.get(f"{BASE}/api/ui/storage/download").mock(return_value=httpx.Response(200, content=archive))
    saved = await client.download_files([{"sha256": SHA, "name": "tcpdump.pcap"}], tmp_path, file_name="pcap.zip")
    assert saved.path.read_bytes() == archive and saved.path.name == "pcap.zip"
    assert route.calls.last.request.url.params["items"] == f'[{{"sha256":"{SHA}","name":"tcpdump.pcap"}}]'
