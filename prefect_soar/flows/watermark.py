"""Watermarks for incremental fetches, stored in Prefect Variables.

A watermark is the timestamp of the newest item fully processed plus the ids of the items *at*
that timestamp. The next run queries inclusively from the timestamp and skips those ids, so an
item at the boundary is neither lost (the query is inclusive) nor repeated (its id is known).
It only moves forward after a whole page has been processed, so a run that fails half-way
re-reads the unfinished page next time; the sinks are idempotent (find-or-create), so what the
failed run already wrote is found, not duplicated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.variables import Variable
from pydantic import BaseModel, Field

MAX_BOUNDARY_IDS = 200
_NAME = re.compile(r"^[a-z0-9_-]{1,255}$")


class Watermark(BaseModel):
    """Where an incremental fetch stopped.

    Attributes:
        timestamp: Time of the newest processed item (UTC), or None before the first run.
        boundary_ids: Ids of processed items whose time equals ``timestamp``.
        processed: Items processed since the watermark was created (for reporting).
    """

    timestamp: datetime | None = None
    boundary_ids: list[str] = Field(default_factory=list)
    processed: int = 0

    def since(self, first_run_lookback: timedelta, now: datetime | None = None) -> datetime:
        """The inclusive lower bound for the next query."""
        if self.timestamp is not None:
            return self.timestamp
        return (now or datetime.now(UTC)) - first_run_lookback

    def is_new(self, timestamp: datetime, item_id: str) -> bool:
        """Whether an item returned by an inclusive query still needs processing."""
        if self.timestamp is None:
            return True
        timestamp = as_utc(timestamp)
        if timestamp > self.timestamp:
            return True
        if timestamp == self.timestamp:
            return item_id not in self.boundary_ids
        return False

    def advanced(self, items: Iterable[tuple[datetime, str]]) -> Watermark:
        """A new watermark that also covers ``items`` (all processed)."""
        timestamp, boundary, count = self.timestamp, list(self.boundary_ids), self.processed
        for when, item_id in sorted(((as_utc(t), i) for t, i in items), key=lambda pair: pair[0]):
            count += 1
            if timestamp is None or when > timestamp:
                timestamp, boundary = when, [item_id]
            elif when == timestamp and item_id not in boundary:
                boundary.append(item_id)
        return Watermark(timestamp=timestamp, boundary_ids=boundary[-MAX_BOUNDARY_IDS:], processed=count)


def as_utc(value: datetime) -> datetime:
    """The same instant as a timezone-aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"watermark name {name!r} must be 1-255 of a-z, 0-9, '_' or '-'")
    return name


async def load_watermark(name: str) -> Watermark:
    """Read a watermark from the Prefect Variable ``name`` (empty when it does not exist).

    Args:
        name: Variable name: lowercase letters, digits, ``_`` and ``-``.
    """
    value: Any = await Variable.aget(_check_name(name), default=None)
    if not value:
        return Watermark()
    return Watermark.model_validate(value)


async def save_watermark(name: str, watermark: Watermark) -> None:
    """Write a watermark to the Prefect Variable ``name``.

    Args:
        name: Variable name: lowercase letters, digits, ``_`` and ``-``.
        watermark: The watermark to store.
    """
    await Variable.aset(_check_name(name), watermark.model_dump(mode="json"), overwrite=True)


async def reset_watermark(name: str) -> None:
    """Delete a watermark so the next run starts from its first-run look-back."""
    await Variable.aunset(_check_name(name))
