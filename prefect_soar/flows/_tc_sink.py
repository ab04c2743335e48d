"""Shared by the audit flows: write source items to ThreatConnect page by page, exactly once.

A flow turns each source item (an Acronis task, a TileDB task, ...) into a :class:`SourceItem`:
its id, the time the watermark is kept on, and the :class:`TaskSpec` to find or create in
ThreatConnect (or ``None`` when a client-side filter leaves it out). :func:`plan_page` keeps the
items the watermark has not covered, in time order, cut at the run's cap; :func:`sink_page`
upserts them in ONE ``upsert_tasks`` task run and advances the watermark over the prefix of
items processed before the first failure, then emits one event per newly covered item.
Re-running after a failure re-reads from the watermark; the find-or-create by marker turns what
the failed run already wrote into "existing" instead of a duplicate, and completes half-built tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import get_run_logger

from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.errors import BadInputError
from prefect_soar.flows._common import emit, markdown_table
from prefect_soar.flows.watermark import Watermark, as_utc, save_watermark
from prefect_soar.models.threatconnect import TaskSpec, TaskUpsertResult
from prefect_soar.tasks.threatconnect import upsert_tasks

MAX_CONCURRENCY = 32
MAX_TAG_LENGTH = 128
MAX_NAME_LENGTH = 200
MAX_ROWS_IN_MARKDOWN = 50


@dataclass(frozen=True)
class SourceItem:
    """One item of a source, ready for ThreatConnect.

    Attributes:
        item_id: The source's id (the marker is ``<source>:<item_id>``).
        timestamp: The time the watermark is kept on (e.g. completion time).
        spec: What to find or create in ThreatConnect; ``None`` when the item is filtered out
            (the watermark still moves over it, so it is not read again).
        row: Table columns describing the item.
        name: A readable name for the event's resource.
        payload: Event payload (JSON-able, no secrets).
    """

    item_id: str
    timestamp: datetime
    spec: TaskSpec | None
    row: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class AuditReport:
    """What one run did; rendered as the run's artifacts and returned (as :meth:`summary`) by the flow."""

    source: str
    watermark_name: str
    start: Watermark
    watermark: Watermark
    rows: list[dict[str, Any]] = field(default_factory=list)
    fetched: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    ignored: int = 0
    pages: int = 0
    capped: bool = False
    errors: list[str] = field(default_factory=list)
    task_ids: list[int] = field(default_factory=list)

    @property
    def processed(self) -> int:
        """Items written to ThreatConnect and covered by the watermark in this run."""
        return self.created + self.existing

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary: counts, ThreatConnect task ids, the watermark."""
        return {
            "source": self.source,
            "fetched": self.fetched,
            "processed": self.processed,
            "created": self.created,
            "existing": self.existing,
            "failed": self.failed,
            "ignored": self.ignored,
            "pages": self.pages,
            "capped": self.capped,
            "threatconnect_task_ids": list(self.task_ids),
            "watermark": self.watermark.timestamp.isoformat() if self.watermark.timestamp else None,
            "errors": list(self.errors),
        }

    def markdown(self, title: str, columns: Sequence[str]) -> str:
        """The run's summary in Markdown: counts, watermark, failures and the first rows."""
        before = self.start.timestamp.isoformat() if self.start.timestamp else "none (first run)"
        after = self.watermark.timestamp.isoformat() if self.watermark.timestamp else "none"
        lines = [
            f"# {title}",
            "",
            f"- items read: **{self.fetched}** in {self.pages} page(s)",
            f"- ThreatConnect tasks created: **{self.created}**, already there: **{self.existing}**",
            f"- failed: **{self.failed}**; left out by filters: {self.ignored}",
            f"- watermark `{self.watermark_name}`: {before} → {after}",
        ]
        if self.capped:
            lines.append("- the per-run cap was reached: the rest is left for the next run")
        if self.errors:
            lines += ["", "## Failures", "", *(f"- {error}" for error in self.errors[:20])]
            lines.append("")
            lines.append("The watermark stops before the first failure; the next run retries from there.")
        shown = self.rows[:MAX_ROWS_IN_MARKDOWN]
        lines += ["", "## Items", "", markdown_table(shown, columns).rstrip()]
        if len(self.rows) > len(shown):
            lines.append(f"\n_{len(self.rows) - len(shown)} more row(s) in the table artifact._")
        return "\n".join(lines) + "\n"


def check_run_options(*, max_items: int, page_size: int, concurrency: int, max_page_size: int = 1000) -> None:
    """Validate the common flow parameters before anything is sent.

    Raises:
        BadInputError: A value out of range.
    """
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise BadInputError(f"max_items must be a positive integer, got {max_items!r}", service="prefect-soar")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= max_page_size:
        raise BadInputError(f"page_size must be from 1 to {max_page_size}, got {page_size!r}", service="prefect-soar")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise BadInputError(
            f"concurrency must be from 1 to {MAX_CONCURRENCY}, got {concurrency!r}", service="prefect-soar"
        )


def clean_tags(*groups: Sequence[str | None]) -> list[str]:
    """Tags in order, stripped, at most 128 characters, without empties and case-insensitive repeats."""
    out: list[str] = []
    seen: set[str] = set()
    for group in groups:
        for tag in group:
            text = (tag or "").strip()[:MAX_TAG_LENGTH].strip()
            if text and text.lower() not in seen:
                seen.add(text.lower())
                out.append(text)
    return out


def task_name(text: str) -> str:
    """A ThreatConnect task name: one line, at most 200 characters (the marker prefix comes on top)."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_NAME_LENGTH else line[: MAX_NAME_LENGTH - 1] + "…"


def plan_page(items: Sequence[SourceItem], watermark: Watermark, budget: int) -> tuple[list[SourceItem], bool]:
    """The items of a page still to process, oldest first, cut at the run's remaining cap.

    Args:
        items: The page, in any order.
        watermark: The watermark in force.
        budget: How many more items may be written to ThreatConnect in this run.

    Returns:
        The items to process (filtered-out ones included, they cost nothing) and whether the cap cut the page.
    """
    ordered = sorted(items, key=lambda item: (as_utc(item.timestamp), item.item_id))
    planned: list[SourceItem] = []
    used = 0
    for item in ordered:
        if not watermark.is_new(item.timestamp, item.item_id):
            continue
        if item.spec is not None:
            if used >= budget:
                return planned, True
            used += 1
        planned.append(item)
    return planned, False


def _failure_text(result: TaskUpsertResult) -> str:
    if result.error:
        return result.error
    return "; ".join(f"{f.step} {f.target}: {f.message}" for f in result.failures) or "unknown failure"


async def sink_page(
    credentials: ThreatConnectCredentials,
    items: Sequence[SourceItem],
    report: AuditReport,
    *,
    concurrency: int,
    event: str,
    resource_prefix: str,
) -> bool:
    """Write planned items to ThreatConnect in one task run; advance and save the watermark.

    Args:
        credentials: The ThreatConnect block.
        items: Planned items (from :func:`plan_page`), oldest first.
        report: The run's report; updated in place (rows, counts, watermark).
        concurrency: Items in flight at once.
        event: Event name emitted once per item the watermark newly covers.
        resource_prefix: Resource id prefix of the source items, e.g. ``acronis.task``.

    Returns:
        True when every item was processed; False when one failed (the caller stops the run).
    """
    specs = [item.spec for item in items if item.spec is not None]
    results: list[TaskUpsertResult] = await upsert_tasks(credentials, specs, concurrency=concurrency) if specs else []
    by_marker = {result.marker: result for result in results}
    covered: list[tuple[datetime, str]] = []
    failed_at: str | None = None
    for item in items:
        row: dict[str, Any] = dict(item.row)
        if item.spec is None:
            report.ignored += 1
            if failed_at is None:
                covered.append((item.timestamp, item.item_id))
            continue
        result = by_marker.get(item.spec.marker) or TaskUpsertResult(marker=item.spec.marker, error="no result")
        row["threatconnect_task_id"] = result.task_id
        if not result.ok:
            report.failed += 1
            text = _failure_text(result)
            report.errors.append(f"{item.spec.marker}: {text}")
            row["status"] = f"failed: {text}"[:300]
            failed_at = failed_at or item.item_id
        elif failed_at is not None:
            row["status"] = "written, recounted next run (after a failure)"
        else:
            covered.append((item.timestamp, item.item_id))
            if result.created:
                report.created += 1
            else:
                report.existing += 1
            row["status"] = "created" if result.created else "existing"
            if result.task_id is not None:
                report.task_ids.append(result.task_id)
                emit(
                    event, f"{resource_prefix}.{item.item_id}", name=item.name or item.spec.name,
                    related=[(f"threatconnect.task.{result.task_id}", "threatconnect-task")],
                    payload={**item.payload, "threatconnect_task_id": result.task_id, "created": result.created},
                )
        report.rows.append(row)
    if covered:
        report.watermark = report.watermark.advanced(covered)
        await save_watermark(report.watermark_name, report.watermark)
    get_run_logger().info(
        "page: %d item(s), %d covered by the watermark%s", len(items), len(covered),
        f", stopped at the first failure ({failed_at})" if failed_at else "",
    )
    return failed_at is None


class AuditFailedError(RuntimeError):
    """Some items could not be written to ThreatConnect; the next run retries them."""


def raise_for_failures(report: AuditReport) -> None:
    """Fail the run when an item failed (after the summary was published).

    Raises:
        AuditFailedError: At least one item failed.
    """
    if report.errors:
        first = report.errors[0]
        raise AuditFailedError(
            f"{len(report.errors)} {report.source} item(s) could not be written to ThreatConnect "
            f"(first: {first}); the watermark stops before the first failure, so the next run retries them"
        )
