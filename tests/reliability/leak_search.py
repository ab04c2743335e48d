"""Everything a run leaves behind that a person could read, gathered as text to search for secrets.

* :func:`capture_logs`: every stdlib log record (Prefect's, prefect-soar's, httpx/httpcore's, the
  lab's) at DEBUG, rendered with its traceback, while the context is open;
* :func:`prefect_records`: what the Prefect API stored: run logs, artifacts, events, flow runs
  (parameters, states), task runs (states, inputs), variables and block documents (as the API
  shows them without ``include_secrets``), plus the server's database files and the local result
  storage, byte for byte;
* :func:`exception_texts`: ``str``, ``repr``, fields and the full chained traceback of an exception.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.events.filters import EventFilter, EventOccurredFilter
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_LOCAL_STORAGE_PATH

DEBUG_LOGGERS = ("prefect_soar", "httpx", "httpcore", "prefect", "prefect.flow_runs", "prefect.task_runs")
PAGE = 200
EVENTS_PAGE = 50  # the most the events API serves at once


class RecordingHandler(logging.Handler):
    """Keeps every record it sees, rendered (message, traceback, stack) at emit time."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(self.format(record) + f" {record.args!r}")
        except Exception as exc:  # a record that cannot render is kept as what we have
            self.texts.append(f"{record.name} unrenderable {record.msg!r} {record.args!r}: {exc}")


@contextmanager
def capture_logs() -> Iterator[RecordingHandler]:
    """Record every log record at DEBUG: on the root logger and on each logger that does not propagate."""
    handler = RecordingHandler()
    levels = {name: logging.getLogger(name).level for name in DEBUG_LOGGERS}
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    targets = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    for logger in targets:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in targets:
            logger.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def exception_texts(exc: BaseException) -> str:
    """Everything an exception shows: str, repr, attributes, and the chained traceback."""
    parts = [str(exc), repr(exc), repr(vars(exc)) if hasattr(exc, "__dict__") else ""]
    parts.extend(traceback.format_exception(exc))
    seen: BaseException | None = exc.__cause__ or exc.__context__
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


async def flush_prefect() -> None:
    """Send the run logs and events still queued in this process to the API."""
    await APILogHandler.aflush()
    drained = EventsWorker.drain_all()
    if asyncio.iscoroutine(drained):
        await drained


async def prefect_records(
    flow_run_ids: Iterable[UUID], since: datetime, *, last_event: Callable[[str], bool] | None = None
) -> dict[str, list[str]]:
    """Source name -> texts of what the Prefect API holds about these runs (and everything since ``since``).

    Args:
        flow_run_ids: The runs whose logs, task runs and flow run records are read.
        since: Events and result files from this time on are read.
        last_event: Recognizes the last event the runs emitted (as JSON): events are read until it arrived.
    """
    await flush_prefect()
    runs = list(flow_run_ids)
    found: dict[str, list[str]] = {}
    async with get_client() as client:
        found["run logs"] = [
            log.model_dump_json()
            for log in await _paged(lambda offset: client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=runs)), limit=PAGE, offset=offset))
        ]
        found["artifacts"] = [
            artifact.model_dump_json()
            for artifact in await _paged(lambda offset: client.read_artifacts(limit=PAGE, offset=offset))
        ]
        run_filter = FlowRunFilter(id=FlowRunFilterId(any_=runs))
        found["flow runs"] = [run.model_dump_json() for run in await client.read_flow_runs(flow_run_filter=run_filter)]
        found["task runs"] = [
            task_run.model_dump_json()
            for task_run in await _paged(lambda offset: client.read_task_runs(
                flow_run_filter=run_filter, limit=PAGE, offset=offset))
        ]
        found["variables"] = [v.model_dump_json() for v in await client.read_variables()]
        found["block documents"] = [
            doc.model_dump_json()
            for doc in await _paged(lambda offset: client.read_block_documents(
                offset=offset, limit=PAGE, include_secrets=False))
        ]
        found["events"] = await _events(client, since, last_event)
    found["server database"] = _files(_database_files())
    found["result storage"] = _files(_storage_files(since))
    return found


async def _paged(read: Any) -> list[Any]:
    items: list[Any] = []
    while True:
        page = await read(len(items))
        items.extend(page)
        if len(page) < PAGE:
            return items


async def _events(
    client: Any, since: datetime, until_seen: Callable[[str], bool] | None, timeout: float = 30.0
) -> list[str]:
    """Every event since ``since``. Events reach the server late: read until one matches ``until_seen``
    (the last thing the runs emitted), then once more a moment later for stragglers."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen = until_seen is None
    while True:
        occurred = EventOccurredFilter.model_validate({"since": since - timedelta(seconds=5)})
        page = await client.read_events(EventFilter(occurred=occurred), limit=EVENTS_PAGE)
        events = list(page.events)
        while page.next_page:
            page = await client.read_events_page(page.next_page)
            events.extend(page.events)
        texts = [event.model_dump_json() for event in events]
        if seen or asyncio.get_running_loop().time() > deadline:
            return texts
        seen = any(until_seen(text) for text in texts)  # type: ignore[misc]
        await asyncio.sleep(1.0 if seen else 0.25)


def _database_files() -> list[Path]:
    url = str(PREFECT_API_DATABASE_CONNECTION_URL.value() or "")
    if not url.startswith("sqlite"):
        return []
    path = Path(url.split(":///", 1)[-1])
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.is_file()]


def _storage_files(since: datetime) -> list[Path]:
    root = Path(PREFECT_LOCAL_STORAGE_PATH.value()).expanduser()
    if not root.is_dir():
        return []
    cutoff = since.timestamp() - 5
    return [p for p in root.rglob("*") if p.is_file() and p.stat().st_mtime >= cutoff]


def _files(paths: list[Path]) -> list[str]:
    return [f"{path}: " + path.read_bytes().decode("latin-1") for path in paths]


def occurrences(sources: Mapping[str, Iterable[str]], secrets: Mapping[str, str]) -> list[str]:
    """``source: secret name: excerpt`` for every text that contains a secret."""
    hits = []
    for source, texts in sources.items():
        for text in texts:
            for name, secret in secrets.items():
                at = text.find(secret)
                if at >= 0:
                    hits.append(f"{source}: {name}: ...{text[max(0, at - 150): at + len(secret) + 50]!r}...")
    return hits


def sources_with(sources: Mapping[str, Iterable[str]], secret: str) -> set[str]:
    """The names of the sources that contain ``secret`` somewhere."""
    return {source for source, texts in sources.items() if any(secret in text for text in texts)}
