"""The Prefect tasks, run inside flows under the Prefect test harness against the emulator."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import pyzipper
from prefect import flow
from prefect.states import Failed

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.errors import AuthenticationError, BadInputError, RateLimitedError, ServerError, TransportError
from prefect_soar.models.ptsandbox import DownloadedArchive, Report, TasksPage, Verdict
from prefect_soar.tasks.ptsandbox import (
    ptsandbox_check_connection,
    ptsandbox_check_task,
    ptsandbox_download_artifacts_batch,
    ptsandbox_download_files,
    ptsandbox_download_task_artifacts,
    ptsandbox_export_tasks_csv,
    ptsandbox_get_report,
    ptsandbox_get_task_artifact_scans,
    ptsandbox_get_task_summary,
    ptsandbox_get_task_tree,
    ptsandbox_get_tasks,
    ptsandbox_get_tasks_filter_values,
    ptsandbox_list_all_tasks,
    ptsandbox_scan_file,
    ptsandbox_scan_url,
    ptsandbox_wait_for_report,
    retry_if_transient,
)

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
async def credentials(sandbox, lab_credentials) -> PTSandboxCredentials:
    block = PTSandboxCredentials(base_url=sandbox.base_url, **lab_credentials)
    await block.asave("lab-ptsandbox-tasks", overwrite=True)
    return await PTSandboxCredentials.aload("lab-ptsandbox-tasks")


@flow
async def triage_flow(credentials: PTSandboxCredentials, dest: str) -> dict:
    health = await ptsandbox_check_connection(credentials)
    page = await ptsandbox_get_tasks(credentials, query="verdict = DANGEROUS", limit=5)
    every = await ptsandbox_list_all_tasks(credentials, query="verdict = DANGEROUS", page_size=7, max_items=12)
    first = str(page.tasks[0].id)
    summary = await ptsandbox_get_task_summary(credentials, first)
    tree = await ptsandbox_get_task_tree(credentials, first, max_tree_level=2)
    scans = await ptsandbox_get_task_artifact_scans(credentials, first, tree.children[0].node_id)
    values = await ptsandbox_get_tasks_filter_values(credentials, scan_id=first)
    exported = await ptsandbox_export_tasks_csv(credentials, f"{dest}/tasks.csv", query="verdict = DANGEROUS",
                                               columns=["taskName", "verdict"])
    archive = await ptsandbox_download_task_artifacts(credentials, first, f"{dest}/one")
    missing = str(uuid.uuid4())
    batch = await ptsandbox_download_artifacts_batch(
        credentials, [str(t.id) for t in page.tasks[:3]] + [missing], f"{dest}/batch", max_concurrency=2
    )
    sha = tree.children[0].info.sha256 if tree.children[0].info else ""
    files = await ptsandbox_download_files(credentials, [sha], f"{dest}/files")
    return {"health": health, "page": page, "every": every, "summary": summary, "tree": tree, "scans": scans,
            "values": values, "exported": exported, "archive": archive, "batch": batch, "missing": missing,
            "files": files}


async def test_ui_tasks_run_inside_a_flow(credentials, tmp_path):
    out = await triage_flow(credentials, str(tmp_path))
    assert out["health"] == {"public_api": "5.11.0.12345", "ui": "ok"}
    assert isinstance(out["page"], TasksPage) and len(out["page"].tasks) == 5
    assert len(out["every"]) == 12 and all(t.verdict == Verdict.DANGEROUS for t in out["every"])
    assert str(out["summary"].task.id) == str(out["page"].tasks[0].id)
    assert out["tree"].children and out["values"].entry_points
    assert out["exported"].path.read_text().startswith("taskName,verdict")
    archive = out["archive"]
    assert isinstance(archive, DownloadedArchive) and archive.path.parent == tmp_path / "one"
    with pyzipper.AESZipFile(archive.path) as opened:
        opened.setpassword(b"infected")
        assert opened.testzip() is None
    batch = out["batch"]
    assert len(batch.downloaded) == 3 and all(a.path.exists() for a in batch.downloaded.values())
    assert list(batch.failed) == [out["missing"]] and "404" in batch.failed[out["missing"]]
    assert out["files"].size > 0 and Path(out["files"].path).exists()


@flow
async def detonation_flow(credentials: PTSandboxCredentials, sample: str) -> dict:
    created = await ptsandbox_scan_file(credentials, sample)
    status = await ptsandbox_check_task(credentials, str(created.scan_id))
    report = await ptsandbox_wait_for_report(credentials, str(created.scan_id), timeout=15, poll=0.1)
    again = await ptsandbox_get_report(credentials, str(created.scan_id))
    url_scan = await ptsandbox_scan_url(credentials, "https://malware.example/drop")
    url_report = await ptsandbox_wait_for_report(credentials, str(url_scan.scan_id), timeout=15, poll=0.1)
    return {"created": created, "status": status, "report": report, "again": again, "url_report": url_report}


async def test_detonation_tasks_run_inside_a_flow(credentials, tmp_path):
    sample = tmp_path / "dropper.exe"
    sample.write_bytes(b"MZ\x90\x00 this sample is MALWARE for the lab")
    out = await detonation_flow(credentials, str(sample))
    assert out["status"].scan_id == out["created"].scan_id
    assert isinstance(out["report"], Report) and out["report"].is_long
    assert out["report"].verdict == Verdict.DANGEROUS and out["again"].is_long
    assert out["url_report"].verdict == Verdict.DANGEROUS


@flow
async def bad_login_flow(credentials: PTSandboxCredentials) -> dict:
    # Wrapped: a flow that returns a failed state would itself fail.
    return {"state": await ptsandbox_get_tasks(credentials, return_state=True)}


async def test_an_authentication_failure_is_not_retried_and_leaks_no_secret(sandbox, lab_credentials):
    block = PTSandboxCredentials(base_url=sandbox.base_url, login=lab_credentials["login"], password="Wr0ng-Passw0rd")
    started = time.monotonic()
    state = (await bad_login_flow(block))["state"]
    assert state.is_failed()
    assert time.monotonic() - started < 8  # a retry would wait the 10 s retry delay first
    with pytest.raises(AuthenticationError) as info:
        await state.result()
    assert "Wr0ng-Passw0rd" not in str(info.value)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (TransportError("connection reset", service="ptsandbox"), True),
        (ServerError("Service Unavailable", service="ptsandbox", status=503), True),
        (RateLimitedError("Too Many Requests", service="ptsandbox", status=429), True),
        (AuthenticationError("Unauthorized", service="ptsandbox", status=401), False),
        (BadInputError("scan_id must be a UUID", service="ptsandbox"), False),
        (ValueError("something else"), False),
    ],
)
async def test_retry_condition_only_retries_transient_failures(error, retry):
    assert await retry_if_transient(None, None, Failed(data=error)) is retry
