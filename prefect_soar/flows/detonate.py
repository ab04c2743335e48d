"""Detonate and report: submit a file or a URL to PT Sandbox, wait for the verdict, record it in ThreatConnect.

Event-driven: the ``detonate-and-report/on-request`` deployment runs this flow for every
``prefect-soar.detonation.requested`` event, with the event's payload (``file_path`` or ``url``,
optional ``tags`` and ``requested_by``) as parameters. Send one with :func:`request_detonation`,
``prefect event emit`` or ``POST /api/events``.

Exactly once per object: the ThreatConnect task is found or created by the marker
``detonation:<sha256 of the file>`` (``detonation:url:<sha256 of the URL>``), so a repeated
request never creates a second task. By default a repeated request does not even re-submit the
object: when a complete task already records it, the recorded verdict is returned
(``rescan=True`` detonates again; the existing task is kept as is).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.events import Event, emit_event

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.threatconnect import marker_tag
from prefect_soar.errors import BadInputError, NotFoundError, SoarError
from prefect_soar.flows._common import emit, load_block, markdown_table, publish_summary
from prefect_soar.flows._detonation import (
    DETONATION_COMPLETED,
    DETONATION_REQUESTED,
    VERDICTS,
    DetonationRecord,
    DetonationTarget,
    check_url,
    file_sha256,
    request_resource_id,
    resolve_target,
    scan_id_in,
    task_spec,
    threat_classes,
    url_sha256,
)
from prefect_soar.models.ptsandbox import Report
from prefect_soar.tasks.ptsandbox import ptsandbox_scan_file, ptsandbox_scan_url, ptsandbox_wait_for_report
from prefect_soar.tasks.threatconnect import transient_failure, upsert_tasks

ARTIFACT_KEY = "detonate-and-report"
ARTIFACT_COLUMNS = ("object", "verdict", "threat", "scan_id", "threatconnect_task", "status")

__all__ = [
    "DETONATION_COMPLETED",
    "DETONATION_REQUESTED",
    "detonate_and_report",
    "find_detonation_record",
    "request_detonation",
]


@task(
    name="detonation-find-record",
    description="Find the ThreatConnect task that records a detonation of the same object.",
    retries=2,
    retry_delay_seconds=[2.0, 10.0],
    retry_condition_fn=transient_failure,
    cache_policy=NO_CACHE,
)
async def find_detonation_record(credentials: ThreatConnectCredentials, marker: str) -> DetonationRecord | None:
    """The task carrying ``marker`` with its scan id, verdict and whether it is complete, or None.

    Args:
        credentials: The ThreatConnect credentials block.
        marker: ``detonation:<sha256>`` or ``detonation:url:<sha256>``.
    """
    async with credentials.get_client() as client:
        found = await client.find_task_by_marker(marker)
        if found is None:
            get_run_logger().info("no ThreatConnect task records this object yet")
            return None
        full = await client.get_task(found.id, includes=["tags"])
    tags = {t.name for t in found.tag} | {t.name for t in full.tag}
    record = DetonationRecord(
        task_id=full.id,
        complete=marker_tag(marker) in tags,
        scan_id=scan_id_in(full.description),
        verdict=next((name for name in sorted(tags) if name in VERDICTS), None),
        web_link=full.web_link,
    )
    get_run_logger().info("ThreatConnect task %s records this object (%s)", record.task_id,
                          "complete" if record.complete else "half-built")
    return record


@flow(name="detonate-and-report")
async def detonate_and_report(
    file_path: str = "",
    url: str = "",
    tags: list[str] | None = None,
    requested_by: str = "",
    sandbox_block: str = "ptsandbox",
    threatconnect_block: str = "threatconnect",
    timeout_seconds: float = 900.0,
    poll_seconds: float = 5.0,
    priority: int = 3,
    max_file_mb: float = 64.0,
    security_label: str | None = None,
    task_status: str = "",
    rescan: bool = False,
) -> dict[str, Any]:
    """Detonate one file or URL in PT Sandbox and record the verdict as a ThreatConnect task.

    Args:
        file_path: Absolute path of the sample on the machine that runs this flow; leave empty for a URL.
        url: URL to detonate (http, https or ftp); leave empty for a file.
        tags: Extra tags for the ThreatConnect task, e.g. the case or mailbox it came from.
        requested_by: Who asked for the detonation (an analyst, a mail gateway), noted in the task.
        sandbox_block: Name of the saved PT Sandbox Credentials block (needs the API key).
        threatconnect_block: Name of the saved ThreatConnect Credentials block.
        timeout_seconds: Seconds to wait for the verdict before failing.
        poll_seconds: First interval between status checks, in seconds (it grows up to 30 s).
        priority: Scan priority from 1 (lowest) to 4.
        max_file_mb: Largest file accepted, in MiB.
        security_label: Existing ThreatConnect security label to apply, e.g. TLP:AMBER; empty for none.
        task_status: Status of a new ThreatConnect task, e.g. Not Started; empty for ThreatConnect's default.
        rescan: Detonate again even when ThreatConnect already records this object (its task is kept as is).

    Returns:
        A summary: status (recorded or already-recorded), object, sha256, scan id, verdict, threat and
        the ThreatConnect task id.
    """
    logger = get_run_logger()
    if max_file_mb <= 0 or timeout_seconds <= 0 or poll_seconds <= 0:
        raise BadInputError("max_file_mb, timeout_seconds and poll_seconds must be positive", service="detonation")
    target = await resolve_target(file_path, url, int(max_file_mb * 1024 * 1024))
    user_tags = [t.strip() for t in tags or [] if t and t.strip()]
    tc_creds = await load_block(ThreatConnectCredentials, threatconnect_block)

    record = await find_detonation_record(tc_creds, target.marker)
    if record is not None and record.complete and not rescan:
        logger.info("%s was detonated before (scan %s); not submitting it again", target.kind, record.scan_id)
        return await _finish(target, record=record, requested_by=requested_by)

    sandbox = await load_block(PTSandboxCredentials, sandbox_block)
    report: Report | None = None
    if record is not None and not record.complete and record.scan_id:
        # An earlier run created the task but was interrupted: finish it from the same scan, so the
        # attributes it already has are recognised and nothing is submitted twice.
        logger.info("completing ThreatConnect task %s from scan %s", record.task_id, record.scan_id)
        try:
            report = await ptsandbox_wait_for_report(sandbox, record.scan_id, timeout=timeout_seconds,
                                                     poll=poll_seconds)
        except NotFoundError:
            logger.warning("scan %s is gone from PT Sandbox; submitting the object again", record.scan_id)
    if report is None:
        if target.kind == "file":
            created = await ptsandbox_scan_file(sandbox, target.value, priority=priority)
        else:
            created = await ptsandbox_scan_url(sandbox, target.value, priority=priority)
        report = await ptsandbox_wait_for_report(sandbox, str(created.scan_id), timeout=timeout_seconds,
                                                 poll=poll_seconds)

    spec = task_spec(target, report, tags=user_tags, requested_by=requested_by, security_label=security_label,
                     status=task_status)
    [result] = await upsert_tasks(tc_creds, [spec], concurrency=1)
    if result.error or result.task_id is None:
        raise SoarError(f"recording the verdict in ThreatConnect failed: {result.error}", service="threatconnect")
    if result.failures:
        steps = ", ".join(f"{f.step} {f.target}: {f.message}" for f in result.failures)
        raise SoarError(
            f"ThreatConnect task {result.task_id} is incomplete ({steps})", service="threatconnect",
            hint="Fix the cause and run the detonation again: the task is found by its marker and completed "
            "from the same scan",
        )
    verdict = str(report.verdict) if report.verdict else None
    done = DetonationRecord(task_id=result.task_id, scan_id=str(report.scan_id), verdict=verdict)
    return await _finish(target, record=done, requested_by=requested_by, report=report, created=result.created)


async def _finish(
    target: DetonationTarget,
    *,
    record: DetonationRecord,
    requested_by: str,
    report: Report | None = None,
    created: bool = False,
) -> dict[str, Any]:
    """Emit the completion event, publish the artifacts and build the summary."""
    reused = report is None
    threat = (report.result.threat if report and report.result else None) or ""
    summary: dict[str, Any] = {
        "status": "already-recorded" if reused else "recorded",
        "kind": target.kind,
        "object": target.display_name,
        "sha256": target.sha256,
        "marker": target.marker,
        "scan_id": record.scan_id,
        "verdict": record.verdict,
        "threat": threat,
        "threat_classes": threat_classes(report) if report else [],
        "threatconnect_task_id": record.task_id,
        "created": created,
    }
    resource = f"ptsandbox.task.{record.scan_id}" if record.scan_id else target.resource_id
    emit(
        DETONATION_COMPLETED, resource, name=target.display_name,
        related=[(f"threatconnect.task.{record.task_id}", "threatconnect-task"),
                 (target.resource_id, "detonation-request")],
        payload={**{k: v for k, v in summary.items() if k != "object"}, "reused": reused,
                 "requested_by": requested_by},
    )
    row = {"object": target.display_name, "verdict": record.verdict or "", "threat": threat,
           "scan_id": record.scan_id or "", "threatconnect_task": record.task_id, "status": summary["status"]}
    markdown = (
        f"# Detonation of {target.kind} `{target.display_name}`\n\n"
        f"**Verdict: {record.verdict or 'UNKNOWN'}**{f' ({threat})' if threat else ''}\n\n"
        f"{markdown_table([row], ARTIFACT_COLUMNS)}\n"
        + ("The object was detonated before; set `rescan` to detonate it again.\n" if reused else "")
    )
    await publish_summary(ARTIFACT_KEY, [row], markdown, description="PT Sandbox detonation recorded in ThreatConnect")
    get_run_logger().info(
        "%s verdict %s recorded in ThreatConnect task %s", target.kind, record.verdict, record.task_id
    )
    return summary


def request_detonation(
    file_path: str | os.PathLike[str] | None = None, url: str | None = None, **extra: Any
) -> Event | None:
    """Ask for a detonation by emitting ``prefect-soar.detonation.requested``.

    The ``detonate-and-report/on-request`` deployment's trigger turns the payload into the flow's
    parameters. The file path is made absolute; it must exist where the flow runs (the worker).

    Args:
        file_path: A file to detonate (give this or ``url``).
        url: A URL to detonate.
        **extra: More payload keys, e.g. ``tags=["case-42"]`` and ``requested_by="alice"``.

    Returns:
        The emitted event (None when Prefect events are disabled).

    Raises:
        BadInputError: Both or neither of ``file_path`` and ``url``, a missing file or a bad URL.
    """
    if (file_path is None or not str(file_path).strip()) == (url is None or not url.strip()):
        raise BadInputError("give exactly one of file_path or url", service="detonation")
    payload: dict[str, Any]
    if url is not None and url.strip():
        text = check_url(url)
        payload, sha, name = {"url": text}, url_sha256(text), text
    else:
        path = os.path.abspath(os.path.expanduser(os.fspath(file_path or "")))
        if not os.path.isfile(path):
            raise BadInputError(f"file_path {file_path!r} is not an existing file", service="detonation")
        payload, sha, name = {"file_path": path}, file_sha256(Path(path)), os.path.basename(path)
    payload.update(extra)
    return emit_event(
        event=DETONATION_REQUESTED,
        resource={"prefect.resource.id": request_resource_id(sha), "prefect.resource.name": name[:200]},
        payload=payload,
    )
