"""The detonate-and-report flow end to end: PT Sandbox and ThreatConnect emulators under the Prefect harness."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from detonation_lab import (
    LabBlocks,
    detonation_lab,
    public_scans,
    reset_lab,
    save_lab_blocks,
    tc_tasks,
)
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker

from prefect_soar.errors import BadInputError, SoarError
from prefect_soar.flows._detonation import resolve_target, url_sha256
from prefect_soar.flows.detonate import (
    DETONATION_COMPLETED,
    DETONATION_REQUESTED,
    detonate_and_report,
    request_detonation,
)
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.threatconnect_records import SecurityLabel

pytestmark = pytest.mark.usefixtures("prefect_harness")

MALWARE = b"MZ\x90\x00 lab sample: MALWARE dropper\n"
PHISHING_URL = "https://evil.example.net/login.php?session=1"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with detonation_lab() as running:
        yield running


@pytest.fixture
async def blocks(lab: Lab) -> LabBlocks:
    reset_lab(lab)
    return await save_lab_blocks(lab)


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Iterator[EventsWorker]:
    """Capture every event this process emits (Prefect's own asserting client)."""
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
    monkeypatch.setattr("prefect.events.utilities.should_emit_events", lambda: True)
    yield worker
    worker.wait_until_empty()


def emitted(worker: EventsWorker, name: str) -> list[Any]:
    worker.wait_until_empty()
    client = worker._client
    assert isinstance(client, AssertingEventsClient)
    return [e for e in client.events if e.event == name]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "invoice.exe"
    path.write_bytes(MALWARE)
    return path


async def test_file_detonation_records_the_verdict_in_threatconnect(lab, blocks, sample, events):
    out = await detonate_and_report(
        file_path=str(sample), tags=["case-42"], requested_by="alice@soc", security_label="TLP:AMBER",
        **blocks.params(),
    )
    sha = hashlib.sha256(MALWARE).hexdigest()
    assert out["status"] == "recorded" and out["created"] is True
    assert out["verdict"] == "DANGEROUS" and out["sha256"] == sha and out["kind"] == "file"
    assert out["threat"] == "Trojan-Downloader.Win32.Lab.gen"
    [scan] = public_scans(lab)
    assert out["scan_id"] == scan.id and scan.name == "invoice.exe"

    [task] = tc_tasks(lab, f"detonation:{sha}")
    assert task.id == out["threatconnect_task_id"]
    assert task.name == "[detonation:" + sha + "] Detonation of invoice.exe: DANGEROUS"
    assert {"pt-sandbox", "detonation", "DANGEROUS", "TROJAN_DOWNLOADER", "case-42"} <= set(task.tags)
    assert task.tags[-1] == f"ext:detonation:{sha}", "the commit mark comes last"
    assert task.labels == ["TLP:AMBER"]
    [description] = task.attribute_values("Description")
    assert "Verdict: DANGEROUS" in description and f"Scan id: {scan.id}" in description
    assert "Requested by: alice@soc" in description and sha in description
    assert task.attribute_values("Source") == ["pt-sandbox"]
    assert task.attribute_values("External ID") == [scan.id]

    [event] = emitted(events, DETONATION_COMPLETED)
    assert event.resource.id == f"ptsandbox.task.{scan.id}"
    roles = {r.role: r.id for r in event.related}
    assert roles["threatconnect-task"] == f"threatconnect.task.{task.id}"
    assert roles["detonation-request"] == f"prefect-soar.detonation.{sha}"
    assert event.payload["verdict"] == "DANGEROUS" and event.payload["reused"] is False


async def test_running_twice_creates_one_task_and_submits_once(lab, blocks, sample):
    first = await detonate_and_report(file_path=str(sample), **blocks.params())
    second = await detonate_and_report(file_path=str(sample), tags=["again"], **blocks.params())
    assert second["status"] == "already-recorded" and second["created"] is False
    assert second["threatconnect_task_id"] == first["threatconnect_task_id"]
    assert second["scan_id"] == first["scan_id"] and second["verdict"] == "DANGEROUS"
    assert len(public_scans(lab)) == 1, "a recorded object is not submitted again"

    rescanned = await detonate_and_report(file_path=str(sample), rescan=True, **blocks.params())
    assert rescanned["status"] == "recorded" and rescanned["created"] is False
    assert rescanned["scan_id"] != first["scan_id"] and len(public_scans(lab)) == 2
    [task] = tc_tasks(lab, f"detonation:{first['sha256']}")
    assert task.id == first["threatconnect_task_id"]
    assert len(task.attribute_values("Description")) == 1, "the recorded task is kept as is"


async def test_url_detonation(lab, blocks):
    out = await detonate_and_report(url=f"  {PHISHING_URL} ", tags=["phish-report"], **blocks.params())
    sha = url_sha256(PHISHING_URL)
    assert out["kind"] == "url" and out["verdict"] == "DANGEROUS" and out["sha256"] == sha
    [task] = tc_tasks(lab, f"detonation:url:{sha}")
    assert {"pt-sandbox", "detonation", "DANGEROUS", "PHISHING", "phish-report"} <= set(task.tags)
    [description] = task.attribute_values("Description")
    assert f"URL: {PHISHING_URL}" in description and "Threat: Phishing.URL.Lab" in description
    [scan] = public_scans(lab)
    assert scan.url == PHISHING_URL and scan.id == out["scan_id"]

    clean = await detonate_and_report(url="https://intranet.example.org/", **blocks.params())
    assert clean["verdict"] == "CLEAN" and clean["threat"] == ""
    [clean_task] = tc_tasks(lab, f"detonation:url:{url_sha256('https://intranet.example.org/')}")
    assert "CLEAN" in clean_task.tags and "DANGEROUS" not in clean_task.tags


async def test_fail_half_way_then_rerun_completes_the_same_task(lab, blocks, sample):
    with pytest.raises(SoarError, match="is incomplete"):
        await detonate_and_report(file_path=str(sample), security_label="TLP:CASE-7", **blocks.params())
    sha = hashlib.sha256(MALWARE).hexdigest()
    [half] = tc_tasks(lab, f"detonation:{sha}")
    assert f"ext:detonation:{sha}" not in half.tags, "a task with a failed step stays unmarked"
    assert len(public_scans(lab)) == 1

    # The analyst creates the missing label; the rerun finishes the task from the same scan.
    backend = lab["threatconnect"].backend
    backend.labels["TLP:CASE-7"] = SecurityLabel("TLP:CASE-7", "Case label.", time.time())
    out = await detonate_and_report(file_path=str(sample), security_label="TLP:CASE-7", **blocks.params())
    assert out["status"] == "recorded" and out["created"] is False
    [task] = tc_tasks(lab, f"detonation:{sha}")
    assert task.id == half.id == out["threatconnect_task_id"]
    assert task.tags[-1] == f"ext:detonation:{sha}" and task.labels == ["TLP:CASE-7"]
    assert len(public_scans(lab)) == 1, "the rerun reuses the interrupted run's scan"
    for kind in ("Description", "Source", "External ID"):
        assert len(task.attribute_values(kind)) == 1, f"{kind} is not duplicated"


@pytest.mark.parametrize(
    ("file_path", "url", "max_bytes", "message"),
    [
        (None, None, 1024, "neither given"),
        ("  ", "", 1024, "neither given"),
        ("FILE", PHISHING_URL, 1024, "both given"),
        ("/nonexistent/sample.exe", None, 1024, "does not exist"),
        ("DIR", None, 1024, "not a regular file"),
        ("EMPTY", None, 1024, "is empty"),
        ("FILE", None, 8, "over the limit of 8 bytes"),
        (None, "javascript:alert(1)", 1024, "absolute http"),
        (None, "https://", 1024, "absolute http"),
        (None, "evil.example.net/x", 1024, "absolute http"),
    ],
)
async def test_bad_input_is_rejected(sample, tmp_path, file_path, url, max_bytes, message):
    (tmp_path / "empty.bin").touch()
    swap = {"FILE": str(sample), "DIR": str(tmp_path), "EMPTY": str(tmp_path / "empty.bin")}
    with pytest.raises(BadInputError, match=message):
        await resolve_target(swap.get(file_path or "", file_path), url, max_bytes)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({}, "neither given"), ({"file_path": "/nonexistent/x.exe"}, "does not exist")]
)
async def test_the_flow_rejects_bad_input_before_sending_anything(lab, blocks, kwargs, message):
    with pytest.raises(BadInputError, match=message):
        await detonate_and_report(**kwargs, **blocks.params())
    assert public_scans(lab) == []
    assert lab["threatconnect"].server.control.stats["requests"] == 0
    assert lab["ptsandbox"].server.control.stats["requests"] == 0


async def test_unreadable_file_is_rejected(sample):
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads every file; permission checks cannot fail")
    sample.chmod(0)
    with pytest.raises(BadInputError, match="not readable"):
        await resolve_target(str(sample), None, 1024)


async def test_request_detonation_emits_the_trigger_event(sample, events):
    event = request_detonation(file_path=sample, tags=["case-9"], requested_by="mail-gw")
    assert event is not None and event.event == DETONATION_REQUESTED
    sha = hashlib.sha256(MALWARE).hexdigest()
    assert event.resource.id == f"prefect-soar.detonation.{sha}"
    assert event.payload == {"file_path": str(sample.resolve()), "tags": ["case-9"], "requested_by": "mail-gw"}
    url_event = request_detonation(url=PHISHING_URL)
    assert url_event is not None and url_event.payload == {"url": PHISHING_URL}
    assert url_event.resource.id == f"prefect-soar.detonation.{url_sha256(PHISHING_URL)}"
    assert [e.id for e in emitted(events, DETONATION_REQUESTED)] == [event.id, url_event.id]
    with pytest.raises(BadInputError):
        request_detonation(file_path=sample, url=PHISHING_URL)
    with pytest.raises(BadInputError):
        request_detonation(file_path=sample.parent / "missing.exe")
