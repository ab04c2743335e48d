"""The real client against the PT Sandbox emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid

import httpx
import pytest
import pyzipper

from prefect_soar._http import RetryPolicy
from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.errors import AuthenticationError, BadRequestError, NotFoundError, ServerError, TransportError
from prefect_soar.models.ptsandbox import Verdict

from .conftest import TASK_COUNT

FAST = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.005)
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


@pytest.fixture
async def client(sandbox, lab_credentials):
    async with PTSandboxClient(sandbox.base_url, retry=FAST, **lab_credentials) as sandbox_client:
        yield sandbox_client


async def test_check_connection_logs_in_over_loopback(client):
    assert await client.check_connection() == {"public_api": "5.11.0.12345", "ui": "ok"}


async def test_wrong_password_and_wrong_api_key_are_authentication_errors(sandbox, lab_credentials):
    async with PTSandboxClient(sandbox.base_url, login=lab_credentials["login"], password="wrong-password",
                               retry=FAST) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_tasks()
    assert info.value.status == 401 and "wrong-password" not in str(info.value)
    async with PTSandboxClient(sandbox.base_url, api_key="not-the-key", retry=FAST) as client:
        with pytest.raises(AuthenticationError):
            await client.get_version()


async def test_iter_tasks_pages_every_task_once_in_order(client):
    small = [t.id async for t in client.iter_tasks(page_size=37)]
    large = [t.id async for t in client.iter_tasks(page_size=200)]
    assert len(small) == TASK_COUNT
    assert len(set(small)) == TASK_COUNT  # no duplicates
    assert small == large  # no gaps: the same sequence whatever the page size
    capped = [t.id async for t in client.iter_tasks(page_size=37, max_items=50)]
    assert capped == small[:50]


async def test_queries_filter_and_bad_syntax_is_a_400_with_the_message(client):
    dangerous = [t async for t in client.iter_tasks("verdict = DANGEROUS", page_size=100)]
    assert dangerous and all(t.verdict == Verdict.DANGEROUS for t in dangerous)
    assert len(dangerous) < TASK_COUNT
    with pytest.raises(BadRequestError) as info:
        await client.get_tasks("verdict = = DANGEROUS")
    assert info.value.status == 400 and info.value.api_message


async def test_csv_export_has_the_chosen_columns_and_every_matching_task(client, tmp_path):
    saved = await client.download_tasks_csv(tmp_path / "tasks.csv", query="verdict = DANGEROUS",
                                            columns=["taskName", "verdict"])
    rows = list(csv.reader(io.StringIO(saved.path.read_text(encoding="utf-8"))))
    assert rows[0] == ["taskName", "verdict"]
    assert {row[1] for row in rows[1:]} == {"DANGEROUS"}
    assert len(rows) - 1 == len([t async for t in client.iter_tasks("verdict = DANGEROUS", page_size=200)])


async def test_summary_tree_scans_and_filter_values_of_a_task(client):
    first = (await client.get_tasks(limit=1)).tasks[0]
    summary = await client.get_task_summary(first.id)
    assert summary.task.id == first.id and summary.task.name == first.name
    tree = await client.get_task_tree(first.id)
    assert tree.children and tree.children[0].info is not None
    scans = await client.get_task_artifact_scans(first.id, tree.children[0].node_id)
    assert all(scan.engine.name for scan in scans.scans)
    values = await client.get_tasks_filter_values(scan_id=first.id)
    assert values.entry_points
    with pytest.raises(NotFoundError):
        await client.get_task_summary(uuid.uuid4())


async def test_artifacts_download_and_decrypt_with_pyzipper(client, tmp_path):
    first = (await client.get_tasks("verdict = DANGEROUS", limit=1)).tasks[0]
    saved = await client.download_task_artifacts(first.id, tmp_path)
    with pyzipper.AESZipFile(saved.path) as archive:
        archive.setpassword(b"infected")
        names = archive.namelist()
        assert names
        assert archive.testzip() is None  # every member decrypts and matches its CRC
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{first.id}.zip"]


async def test_stored_files_download_by_sha256(client, tmp_path):
    first = (await client.get_tasks(limit=1)).tasks[0]
    tree = await client.get_task_tree(first.id)
    node = tree.children[0]
    assert node.info is not None and node.info.sha256
    saved = await client.download_files([{"sha256": node.info.sha256, "name": "sample.bin"}], tmp_path)
    with pyzipper.AESZipFile(saved.path) as archive:
        archive.setpassword(b"infected")
        assert archive.namelist() == ["sample.bin"]
        assert len(archive.read("sample.bin")) == node.info.size
    with pytest.raises(NotFoundError):
        await client.download_files(["0" * 64], tmp_path, file_name="none.zip")
    assert not (tmp_path / "none.zip").exists()


async def test_scan_lifecycle_file_and_url(client, tmp_path):
    sample = tmp_path / "eicar.com"
    sample.write_bytes(EICAR)
    created = await client.scan_file(sample)
    first = await client.check_task(created.scan_id)
    assert first.scan_id == created.scan_id
    report = await client.wait_for_report(created.scan_id, timeout=10, poll=0.05)
    assert report.is_long and report.verdict == Verdict.DANGEROUS
    assert report.result is not None and report.result.scan_state == "FULL"
    assert report.artifacts and report.artifacts[0].file_info is not None
    url_scan = await client.scan_url("https://evil.example/login")
    url_report = await client.wait_for_report(url_scan.scan_id, timeout=10, poll=0.05)
    assert url_report.verdict == Verdict.DANGEROUS
    with pytest.raises(NotFoundError):
        await client.get_report(uuid.uuid4())


async def test_expired_ui_token_is_refreshed_after_the_401(sandbox, client):
    async with httpx.AsyncClient(base_url=sandbox.base_url) as admin:
        answer = await admin.put("/_lab/faults", json={"token_ttl_seconds": 0.3})
        assert answer.status_code == 200
    await client.get_tasks(limit=1)
    issued = client._ui_auth._token  # type: ignore[union-attr]
    await asyncio.sleep(0.5)  # the emulator now answers 401 to that token
    page = await client.get_tasks(limit=1)
    assert page.tasks
    assert client._ui_auth._token != issued  # type: ignore[union-attr]


async def test_injected_503s_are_retried_and_a_persistent_one_reports_the_fault(sandbox, lab_credentials):
    patient = RetryPolicy(max_attempts=8, backoff_base=0.001, backoff_max=0.005)
    async with PTSandboxClient(sandbox.base_url, retry=patient, **lab_credentials) as client:
        await client.get_tasks(limit=1)  # log in first, fault-free
        before = sandbox.control.stats["injected_503"]
        sandbox.control.set_faults(
            sandbox.control.faults.model_copy(update={"errors": {503: 0.4}, "retry_after_seconds": 0, "seed": 7})
        )
        pages = [await client.get_tasks(limit=5) for _ in range(5)]
        assert all(len(page.tasks) == 5 for page in pages)
        assert sandbox.control.stats["injected_503"] > before
        sandbox.control.set_faults(sandbox.control.faults.model_copy(update={"errors": {503: 1.0}}))
        with pytest.raises(ServerError, match="lab fault: injected HTTP 503"):
            await client.get_tasks(limit=5)


async def test_a_dropped_connection_during_download_leaves_nothing(sandbox, client, tmp_path):
    first = (await client.get_tasks(limit=1)).tasks[0]
    sandbox.control.set_faults(sandbox.control.faults.model_copy(update={"drop_rate": 1.0}))
    with pytest.raises(TransportError):
        await client.download_task_artifacts(first.id, tmp_path)
    assert list(tmp_path.iterdir()) == []
