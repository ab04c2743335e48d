"""Sandbox → ThreatConnect triage: the headline flow.

Pages through PT Sandbox tasks matching a query since the watermark (oldest first); for each
task, inside one batch task run per page and with bounded concurrency: summary, artifact tree,
per-artifact scans, the encrypted artifact archive downloaded to a local store, indicators
(file hashes and the tree's network objects); then in ThreatConnect exactly one Task per sandbox
task (found or created by the marker ``ptsandbox:<scan id>``) with tags, attributes, an
optional security label and associations to the indicators. One event per detection; the
watermark advances only over fully processed items.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from pydantic import BaseModel, Field

from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.clients.threatconnect import ThreatConnectClient
from prefect_soar.errors import BadInputError, RateLimitedError, ServerError, SoarError, TransportError
from prefect_soar.flows._common import emit, load_block, markdown_table, publish_summary
from prefect_soar.flows.watermark import Watermark, as_utc, load_watermark, save_watermark
from prefect_soar.models.ptsandbox import Task, TreeNode
from prefect_soar.models.threatconnect import AttributeSpec, IndicatorRef, TaskSpec

DEFAULT_QUERY = "verdict IN (DANGEROUS, UNWANTED)"
DETECTION_EVENT = "prefect-soar.sandbox.detection"
NETWORK_TYPES = {"URL": "urls", "IP": "addresses", "DOMAIN": "hosts"}
MAX_INDICATORS_PER_TASK = 25
ITEM_ATTEMPTS = 8
TRANSIENT_PREFIXES = ("TransportError", "RequestTimeoutError", "ServerError", "RateLimitedError")


class SandboxFinding(BaseModel):
    """What the triage learned about one sandbox task.

    Attributes:
        scan_id: The sandbox task's UUID.
        name: The scanned object's name.
        start: When the task started (UTC).
        verdict: CLEAN, UNWANTED, DANGEROUS or UNKNOWN (or a newer value).
        classification: The threat classification.
        artifacts: Number of file artifacts in the tree.
        file_hashes: SHA-256 of the file artifacts.
        network: ``(type, value)`` of network objects (URL, IP, DOMAIN).
        detections: ``engine: detection`` names from the per-artifact scans.
        archive_path: Where the encrypted archive was stored.
        archive_size: Its size in bytes.
        archive_sha256: Its SHA-256.
        error: Why the item failed, when it did.
    """

    scan_id: str
    name: str = ""
    start: datetime
    verdict: str = "UNKNOWN"
    classification: str = "UNKNOWN"
    artifacts: int = 0
    file_hashes: list[str] = Field(default_factory=list)
    network: list[tuple[str, str]] = Field(default_factory=list)
    detections: list[str] = Field(default_factory=list)
    archive_path: str | None = None
    archive_size: int | None = None
    archive_sha256: str | None = None
    error: str | None = None


class TriageItem(BaseModel):
    """The outcome of one sandbox task: its finding and its ThreatConnect task."""

    finding: SandboxFinding
    threatconnect_task_id: int | None = None
    created: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the item was fully processed."""
        return self.error is None and self.finding.error is None and self.threatconnect_task_id is not None


@dataclass(frozen=True)
class TriageSettings:
    """Per-item settings of a triage batch (plain data, shipped to the batch task)."""

    artifact_dir: str
    download_artifacts: bool
    max_scanned_artifacts: int
    tags: tuple[str, ...]
    security_label: str | None
    sandbox_url: str


def build_query(query: str, since: datetime) -> str:
    """The listing query: the user's filter, from ``since`` on, oldest first.

    Args:
        query: The user's QL filter (without ``ORDER BY``).
        since: Inclusive lower bound on ``start``.
    """
    if "order by" in query.lower():
        raise BadInputError("the triage query must not contain ORDER BY; the flow reads oldest first", service="flow")
    bound = as_utc(since).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = f"start >= {bound}"
    if query.strip():
        condition += f" AND ({query.strip()})"
    return f"{condition} ORDER BY start ASC"


@task(name="ptsandbox-fetch-page", description="Read one page of sandbox tasks.", retries=2, retry_delay_seconds=2)
async def fetch_page(
    credentials: PTSandboxCredentials, query: str, page_size: int, cursor: str | None
) -> tuple[list[Task], str]:
    """Read one page of the task listing.

    Args:
        credentials: The PT Sandbox block.
        query: The full QL query.
        page_size: Tasks per page (1-200).
        cursor: The cursor of the page, or None for the first.

    Returns:
        The page's tasks and the next cursor (``""`` at the end).
    """
    async with credentials.get_client() as client:
        page = await client.get_tasks(query=query, limit=page_size, next_cursor=cursor)
    return page.tasks, page.next_cursor


async def investigate(client: PTSandboxClient, task_: Task, settings: TriageSettings) -> SandboxFinding:
    """Summary, artifact tree, scans and archive of one sandbox task (transient failures tried again)."""
    for attempt in range(1, ITEM_ATTEMPTS + 1):
        finding = await _investigate_once(client, task_, settings)
        if finding.error is None or not finding.error.startswith(TRANSIENT_PREFIXES) or attempt == ITEM_ATTEMPTS:
            return finding
        await asyncio.sleep(_item_backoff(attempt))
    return finding


def _item_backoff(attempt: int) -> float:
    return float(min(8.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))


async def _investigate_once(client: PTSandboxClient, task_: Task, settings: TriageSettings) -> SandboxFinding:
    scan_id = str(task_.id)
    finding = SandboxFinding(scan_id=scan_id, name=task_.name, start=as_utc(task_.start or datetime.now(UTC)))
    try:
        summary = (await client.get_task_summary(scan_id)).task
        correlation = summary.correlation or task_.correlation
        if correlation is not None:
            finding.verdict = str(correlation.threat_level)
            finding.classification = str(correlation.threat_classification)
        nodes = await _all_nodes(client, scan_id)
        files = [n for n in nodes if n.info is not None and n.info.sha256 and n.node_type == "ARTIFACT"]
        finding.artifacts = len(files)
        finding.file_hashes = list(dict.fromkeys(n.info.sha256.lower() for n in files if n.info and n.info.sha256))
        network = {(o.type, o.value) for n in nodes for o in n.network_objects if o.type in NETWORK_TYPES}
        finding.network = sorted(network)
        finding.detections = await _detections(client, scan_id, files[: settings.max_scanned_artifacts])
        if settings.download_artifacts:
            archive = await client.download_task_artifacts(
                scan_id, Path(settings.artifact_dir) / scan_id[:2], file_name=f"{scan_id}.zip"
            )
            finding.archive_path = str(archive.path)
            finding.archive_size = archive.size
            finding.archive_sha256 = archive.sha256
    except SoarError as exc:
        finding.error = f"{type(exc).__name__}: {exc}"
    return finding


async def _all_nodes(client: PTSandboxClient, scan_id: str) -> list[TreeNode]:
    nodes: list[TreeNode] = []
    offset = 0
    while True:
        page = await client.get_task_tree(scan_id, limit=1000, offset=offset, max_tree_level=3)
        nodes.extend(page.children)
        offset += len(page.children)
        if not page.has_more or not page.children:
            return nodes


async def _detections(client: PTSandboxClient, scan_id: str, nodes: list[TreeNode]) -> list[str]:
    found: list[str] = []
    for node in nodes:
        scans = await client.get_task_artifact_scans(scan_id, node.node_id)
        for scan in scans.scans:
            found.extend(f"{scan.engine.name}: {detection.name}" for detection in scan.engine.detections)
    return list(dict.fromkeys(found))


def task_spec(finding: SandboxFinding, settings: TriageSettings) -> TaskSpec:
    """The ThreatConnect task for a finding (marker ``ptsandbox:<scan id>``)."""
    link = f"{settings.sandbox_url.rstrip('/')}/tasks/{finding.scan_id}"
    lines = [
        f"PT Sandbox verdict: {finding.verdict} ({finding.classification})",
        f"Object: {finding.name}",
        f"Started: {finding.start.isoformat()}",
        f"File artifacts: {finding.artifacts}",
    ]
    if finding.detections:
        lines.append("Detections: " + "; ".join(finding.detections[:10]))
    if finding.archive_sha256:
        lines.append(f"Artifact archive (AES zip, password 'infected'): sha256 {finding.archive_sha256}")
    lines.append(f"Sandbox task: {link}")
    tags = ["pt-sandbox", finding.verdict]
    if finding.classification and finding.classification != "UNKNOWN":
        tags.append(finding.classification)
    indicators = [IndicatorRef(type="files", value=h) for h in finding.file_hashes]
    indicators += [IndicatorRef(type=NETWORK_TYPES[kind], value=value) for kind, value in finding.network]
    return TaskSpec(
        marker=f"ptsandbox:{finding.scan_id}",
        name=f"{finding.verdict} {finding.name or finding.scan_id}"[:200],
        description=f"PT Sandbox {finding.verdict}: {finding.name}"[:500],
        tags=list(dict.fromkeys([*tags, *settings.tags])),
        attributes=[
            AttributeSpec(type="Description", value="\n".join(lines), displayed=True),
            AttributeSpec(type="Source", value="PT Sandbox"),
            AttributeSpec(type="External ID", value=finding.scan_id),
        ],
        security_labels=[settings.security_label] if settings.security_label else [],
        indicators=indicators[:MAX_INDICATORS_PER_TASK],
    )


async def record(tc: ThreatConnectClient, finding: SandboxFinding, settings: TriageSettings) -> TriageItem:
    """Ensure the finding's indicators and its one ThreatConnect task exist.

    Find-or-create is idempotent, so an attempt that failed transiently (5xx, 429, a dropped
    connection: the write may or may not have happened) is simply made again.
    """
    item = TriageItem(finding=finding)
    if finding.error:
        return item
    spec = task_spec(finding, settings)
    indicators = list(spec.indicators)  # the ones not created yet: an attempt does not repeat what one before did
    for attempt in range(1, ITEM_ATTEMPTS + 1):
        item.error = None
        try:
            while indicators:
                await tc.create_indicator(indicators[0].type, indicators[0].value)
                indicators.pop(0)
            [result] = await tc.upsert_tasks([spec], concurrency=1)
        except (TransportError, ServerError, RateLimitedError) as exc:
            item.error = f"{type(exc).__name__}: {exc}"
        except SoarError as exc:
            item.error = f"{type(exc).__name__}: {exc}"
            return item
        else:
            item.threatconnect_task_id, item.created = result.task_id, item.created or result.created
            if not (result.error or result.failures):
                return item
            failed = ", ".join(f"{f.step} {f.target} ({f.error})" for f in result.failures)
            item.error = result.error or f"sub-steps failed: {failed}"
            if not result.transient:
                return item
        if attempt < ITEM_ATTEMPTS:
            await asyncio.sleep(_item_backoff(attempt))
    return item


@task(name="sandbox-triage-batch", description="Investigate a page of sandbox tasks and record them.")
async def triage_batch(
    sandbox: PTSandboxCredentials,
    threatconnect: ThreatConnectCredentials,
    tasks: list[Task],
    settings: TriageSettings,
    concurrency: int,
) -> list[TriageItem]:
    """Investigate sandbox tasks and record each in ThreatConnect, several at a time.

    Args:
        sandbox: The PT Sandbox block.
        threatconnect: The ThreatConnect block.
        tasks: The page's new sandbox tasks.
        settings: Artifact store, tags and label.
        concurrency: Sandbox tasks handled at once.

    Returns:
        One item per task, in the given order.
    """
    gate = asyncio.Semaphore(max(1, concurrency))
    async with sandbox.get_client() as client, threatconnect.get_client() as tc:

        async def one(task_: Task) -> TriageItem:
            async with gate:
                return await record(tc, await investigate(client, task_, settings), settings)

        items = await asyncio.gather(*(one(t) for t in tasks))
    for item in items:
        if item.ok:
            emit(
                DETECTION_EVENT,
                f"ptsandbox.task.{item.finding.scan_id}",
                name=item.finding.name,
                related=[(f"threatconnect.task.{item.threatconnect_task_id}", "threatconnect-task")],
                payload={
                    "verdict": item.finding.verdict,
                    "classification": item.finding.classification,
                    "artifacts": item.finding.artifacts,
                    "threatconnect_task_id": item.threatconnect_task_id,
                    "created": item.created,
                },
            )
    failed = sum(1 for i in items if not i.ok)
    get_run_logger().info("triaged %d sandbox task(s), %d failed", len(items), failed)
    return list(items)


def _row(item: TriageItem) -> dict[str, Any]:
    f = item.finding
    status = "failed" if not item.ok else ("created" if item.created else "existing")
    return {
        "sandbox task": f.scan_id,
        "name": f.name,
        "verdict": f.verdict,
        "classification": f.classification,
        "artifacts": f.artifacts,
        "archive bytes": f.archive_size or 0,
        "threatconnect task": item.threatconnect_task_id or "",
        "status": status,
        "error": (item.error or f.error or "")[:200],
    }


@flow(name="sandbox-triage")
async def sandbox_triage(
    sandbox_block: str = "ptsandbox",
    threatconnect_block: str = "threatconnect",
    query: str = DEFAULT_QUERY,
    first_run_lookback_hours: float = 72.0,
    max_items: int = 200,
    page_size: int = 100,
    concurrency: int = 8,
    tags: list[str] | None = None,
    security_label: str | None = None,
    artifact_dir: str = ".soar/artifacts",
    download_artifacts: bool = True,
    max_scanned_artifacts: int = 5,
    watermark: str = "sandbox-triage-ptsandbox",
) -> dict[str, Any]:
    """Triage new PT Sandbox detections into ThreatConnect Tasks, exactly once each.

    Args:
        sandbox_block: Name of the saved PT Sandbox credentials block.
        threatconnect_block: Name of the saved ThreatConnect credentials block.
        query: PT Sandbox query-language filter (no ORDER BY), e.g. verdict IN (DANGEROUS, UNWANTED).
        first_run_lookback_hours: How far back the first run looks, in hours.
        max_items: Most sandbox tasks processed in one run; the rest wait for the next run.
        page_size: Sandbox tasks read per page (1-200).
        concurrency: Sandbox tasks investigated at once.
        tags: Extra tags for every ThreatConnect task.
        security_label: Existing security label for every task, e.g. TLP:AMBER.
        artifact_dir: Folder of the local artifact store (archives stay encrypted).
        download_artifacts: Download each task's artifact archive.
        max_scanned_artifacts: Artifacts per task whose engine scans are read.
        watermark: Name of the Prefect Variable holding this flow's watermark.

    Returns:
        Counts and the ThreatConnect task ids, by sandbox task id.
    """
    if not 1 <= page_size <= 200:
        raise BadInputError(f"page_size must be within 1-200, got {page_size}", service="flow")
    if max_items < 1 or concurrency < 1:
        raise BadInputError("max_items and concurrency must be at least 1", service="flow")
    logger = get_run_logger()
    sandbox = await load_block(PTSandboxCredentials, sandbox_block)
    threatconnect = await load_block(ThreatConnectCredentials, threatconnect_block)
    settings = TriageSettings(
        artifact_dir=artifact_dir, download_artifacts=download_artifacts,
        max_scanned_artifacts=max_scanned_artifacts, tags=tuple(tags or ()), security_label=security_label,
        sandbox_url=sandbox.base_url,
    )
    mark = await load_watermark(watermark)
    full_query = build_query(query, mark.since(timedelta(hours=first_run_lookback_hours)))
    logger.info("reading sandbox tasks: %s", full_query)

    items: list[TriageItem] = []
    cursor: str | None = None
    stopped = False
    while len(items) < max_items and not stopped:
        page, next_cursor = await fetch_page(sandbox, full_query, page_size, cursor)
        fresh = [t for t in page if mark.is_new(as_utc(t.start or datetime.now(UTC)), str(t.id))]
        fresh = fresh[: max_items - len(items)]
        if fresh:
            done = await triage_batch(sandbox, threatconnect, fresh, settings, concurrency)
            items.extend(done)
            mark, stopped = _advance(mark, done)
            await save_watermark(watermark, mark)
        if not next_cursor or stopped:
            break
        cursor = next_cursor

    rows = [_row(i) for i in items]
    failed = [r for r in rows if r["status"] == "failed"]
    created = sum(1 for r in rows if r["status"] == "created")
    markdown = (
        f"# Sandbox triage\n\n"
        f"Processed **{len(rows)}** sandbox task(s): **{created}** ThreatConnect task(s) created, "
        f"**{len(rows) - created - len(failed)}** already there, **{len(failed)}** failed.\n\n"
        f"Watermark `{watermark}`: {mark.timestamp.isoformat() if mark.timestamp else 'not set'}.\n\n"
        + markdown_table(rows, ["sandbox task", "verdict", "artifacts", "threatconnect task", "status"])
    )
    await publish_summary("sandbox-triage", rows, markdown, description="Sandbox tasks triaged into ThreatConnect")
    if failed:
        raise RuntimeError(
            f"{len(failed)} sandbox task(s) could not be triaged (first: {failed[0]['error']}); "
            "the watermark stops before them and the next run retries them"
        )
    return {
        "processed": len(rows),
        "created": created,
        "existing": len(rows) - created,
        "watermark": mark.timestamp.isoformat() if mark.timestamp else None,
        "threatconnect_tasks": {r["sandbox task"]: r["threatconnect task"] for r in rows},
    }


def _advance(mark: Watermark, done: list[TriageItem]) -> tuple[Watermark, bool]:
    """Advance over the items processed before the first failure; report whether one failed."""
    ordered = sorted(done, key=lambda i: i.finding.start)
    prefix: list[TriageItem] = []
    for item in ordered:
        if not item.ok:
            return mark.advanced((i.finding.start, i.finding.scan_id) for i in prefix), True
        prefix.append(item)
    return mark.advanced((i.finding.start, i.finding.scan_id) for i in prefix), False
