"""Connectivity check of every saved prefect-soar credentials block (a SOAR "test module")."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client

from prefect_soar import blocks
from prefect_soar.blocks._base import ServiceCredentials


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one block's connectivity check."""

    block_type: str
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """One human-readable line: ``ok`` or ``failed`` with the reason."""
        status = "ok" if self.ok else "FAILED"
        suffix = "" if self.ok else f": {self.detail}"
        return f"{self.block_type}/{self.name}: {status}{suffix}"


def credential_block_classes() -> list[type[ServiceCredentials]]:
    """The credentials block classes this package provides."""
    return [getattr(blocks, name) for name in blocks.__all__]


async def _check_one(cls: type[ServiceCredentials], name: str, timeout: float) -> CheckResult:
    slug = cls.get_block_type_slug()
    try:
        block: ServiceCredentials = await cls.aload(name)
        detail = await asyncio.wait_for(block.test_connection(), timeout=timeout)
        return CheckResult(slug, name, True, detail)
    except Exception as exc:  # every failure is reported, none stops the others
        return CheckResult(slug, name, False, f"{type(exc).__name__}: {exc}")


async def check_saved_blocks(timeout: float = 30.0) -> list[CheckResult]:
    """Run ``test_connection`` on every saved prefect-soar credentials block, concurrently.

    Args:
        timeout: Seconds allowed per block.

    Returns:
        One result per saved block, sorted by type and name.
    """
    jobs: list[Coroutine[Any, Any, CheckResult]] = []
    async with get_client() as client:
        for cls in credential_block_classes():
            try:
                documents = await client.read_block_documents_by_type(
                    cls.get_block_type_slug(), include_secrets=False
                )
            except Exception:  # the type was never registered: nothing saved
                documents = []
            jobs.extend(_check_one(cls, doc.name, timeout) for doc in documents if doc.name)
    results = await asyncio.gather(*jobs)
    return sorted(results, key=lambda r: (r.block_type, r.name))


@flow(name="prefect-soar-healthcheck", log_prints=False)
async def healthcheck(timeout_seconds: float = 30.0) -> list[str]:
    """Check connectivity of every saved prefect-soar credentials block.

    Args:
        timeout_seconds: Seconds allowed per block.

    Returns:
        One line per block, ``<type>/<name>: ok`` or ``... FAILED: <reason>``.
    """
    logger = get_run_logger()
    results = await check_saved_blocks(timeout_seconds)
    for result in results:
        (logger.info if result.ok else logger.error)(result.line())
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(results)} credential blocks failed their connectivity check")
    return [r.line() for r in results]
