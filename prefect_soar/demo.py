"""``make demo``: the whole story on the built-in lab with Prefect's local ephemeral server.

Starts the four emulators on loopback, saves credential blocks pointing at them, runs the
triage, Acronis and TileDB flows (and the triage again, to show it creates nothing twice), and
prints what happened. Prefect state lives in ``.soar/prefect`` so the runs can be browsed
afterwards with ``prefect server start``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEMO_HOME = Path(".soar")


def _prepare_environment(home: Path) -> None:
    """Point Prefect at a project-local home and keep its output quiet (before Prefect is imported)."""
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str((home / "prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.pop("PREFECT_API_URL", None)  # the demo always uses the local ephemeral server


@dataclass
class Step:
    """One stage of the demo and what it reported."""

    title: str
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)


async def _save_blocks(lab: Any) -> None:
    from prefect_soar.blocks.acronis import AcronisCredentials
    from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
    from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
    from prefect_soar.blocks.tiledb import TileDBCredentials

    pt, tc, ac, td = lab["ptsandbox"], lab["threatconnect"], lab["acronis"], lab["tiledb"]
    await PTSandboxCredentials(
        base_url=pt.base_url, api_key=pt.credentials["api_key"], login=pt.credentials["login"],
        password=pt.credentials["password"],
    ).save("ptsandbox", overwrite=True)
    await ThreatConnectCredentials(
        base_url=f"{tc.base_url}/api", access_id=tc.credentials["access_id"], secret_key=tc.credentials["secret_key"],
        default_owner=tc.credentials["default_owner"],
    ).save("threatconnect", overwrite=True)
    await AcronisCredentials(
        base_url=ac.base_url, client_id=ac.credentials["client_id"], client_secret=ac.credentials["client_secret"],
    ).save("acronis", overwrite=True)
    await TileDBCredentials(
        base_url=f"{td.base_url}/v1", api_key=td.credentials["api_key"], namespace=td.credentials["namespace"],
    ).save("tiledb", overwrite=True)


async def _reset_watermarks(names: list[str]) -> None:
    from prefect_soar.flows.watermark import reset_watermark

    for name in names:
        await reset_watermark(name)


def _tc_summary(lab: Any) -> tuple[int, dict[str, int]]:
    tasks = list(lab["threatconnect"].backend.tasks.values())
    by_source = {
        source: sum(1 for t in tasks if t.name.startswith(f"[{source}:"))
        for source in ("ptsandbox", "acronis", "tiledb", "detonation")
    }
    return len(tasks), by_source


async def run_demo(home: Path = DEMO_HOME, progress: Callable[[str], None] | None = None) -> list[Step]:
    """Run every flow against the lab and return what each stage reported.

    Args:
        home: Folder for Prefect state and the artifact store.
        progress: Called with the title of each stage as it starts.
    """
    from prefect_soar.flows.acronis_failures import acronis_failures_to_threatconnect
    from prefect_soar.flows.detonate import detonate_and_report
    from prefect_soar.flows.sandbox_triage import sandbox_triage
    from prefect_soar.flows.tiledb_audit import tiledb_failed_tasks_to_threatconnect
    from prefect_soar.flows.tiledb_report import tiledb_sql_report
    from prefect_soar.simulators.lab import Lab

    store = home / "artifacts"
    shutil.rmtree(store, ignore_errors=True)
    steps: list[Step] = []

    async def stage(title: str, work: Callable[[], Awaitable[list[str]]]) -> None:
        if progress:
            progress(title)
        started = time.monotonic()
        lines = await work()
        steps.append(Step(title, time.monotonic() - started, lines))

    settings = {"ptsandbox": {"task_count": 150, "scan_seconds": 0.2}, "tiledb": {"completion_delay_seconds": 0.5}}
    with Lab(settings=settings) as lab:

        async def start_lab() -> list[str]:
            await _save_blocks(lab)
            await _reset_watermarks(["demo-triage", "demo-acronis", "demo-tiledb-audit"])
            return [f"{name:14s} {service.base_url}" for name, service in lab.running.items()] + [
                "credential blocks saved: ptsandbox, threatconnect, acronis, tiledb",
            ]

        async def triage() -> list[str]:
            result = await sandbox_triage(
                query="verdict IN (DANGEROUS, UNWANTED)", first_run_lookback_hours=24 * 31, max_items=60,
                page_size=25, artifact_dir=str(store), tags=["demo"], security_label="TLP:AMBER",
                watermark="demo-triage",
            )
            archives = sorted(store.rglob("*.zip"))
            size = sum(p.stat().st_size for p in archives)
            return [
                f"sandbox tasks triaged: {result['processed']} (DANGEROUS and UNWANTED, oldest first)",
                f"artifact archives downloaded: {len(archives)}, {size / 1024:.0f} KiB, kept encrypted in {store}",
                f"ThreatConnect tasks created: {result['created']}, tagged pt-sandbox/verdict/demo, TLP:AMBER",
                f"events emitted: {result['processed']} x prefect-soar.sandbox.detection",
            ]

        async def triage_again() -> list[str]:
            result = await sandbox_triage(
                first_run_lookback_hours=24 * 31, max_items=60, artifact_dir=str(store), watermark="demo-triage",
            )
            return [f"second run: {result['processed']} new sandbox tasks, {result['created']} tasks created"]

        async def acronis() -> list[str]:
            result = await acronis_failures_to_threatconnect(
                first_run_lookback_hours=24 * 14, max_items=50, tags=["demo"], watermark="demo-acronis",
            )
            return [f"Acronis failed tasks recorded: {_count(result, 'processed')}, "
                    f"ThreatConnect tasks created: {_count(result, 'created')}"]

        async def tiledb() -> list[str]:
            report = await tiledb_sql_report(
                sql="SELECT host, severity, event_type FROM security_events WHERE severity = 'critical' LIMIT 20",
            )
            audit = await tiledb_failed_tasks_to_threatconnect(
                first_run_lookback_hours=24 * 14, max_items=50, tags=["demo"], watermark="demo-tiledb-audit",
            )
            return [
                f"TileDB SQL report: {_count(report, 'rows')} row(s), task {report.get('task_id', '?')}",
                f"TileDB failed tasks recorded: {_count(audit, 'processed')}, created: {_count(audit, 'created')}",
            ]

        async def detonate() -> list[str]:
            sample = home / "samples" / "invoice.docm"
            sample.parent.mkdir(parents=True, exist_ok=True)
            sample.write_bytes(b"demo sample: this document carries a MALWARE marker the lab detects\n")
            lines = []
            for file_path, url in ((str(sample), ""), ("", "http://evil.example.net/payload.bin")):
                result = await detonate_and_report(
                    file_path=file_path, url=url, tags=["demo"], poll_seconds=0.3, timeout_seconds=60
                )
                lines.append(
                    f"{result['kind']} {result['object']}: {result['verdict']}, "
                    f"ThreatConnect task {result['threatconnect_task_id']}"
                )
            return lines

        await stage("Starting the lab and Prefect's local server", start_lab)
        await stage("Sandbox -> ThreatConnect triage", triage)
        await stage("Triage again (exactly once)", triage_again)
        await stage("Acronis failures -> ThreatConnect", acronis)
        await stage("TileDB report and audit", tiledb)
        await stage("Detonate a file and a URL", detonate)
        total, by_source = _tc_summary(lab)
        steps.append(Step("ThreatConnect lab now holds", 0.0, [
            f"{total} tasks: " + ", ".join(f"{n} from {s}" for s, n in by_source.items() if n),
        ]))
    return steps


def _count(result: Any, key: str) -> Any:
    return result.get(key, "?") if isinstance(result, dict) else "?"


def main() -> int:
    """Run the demo with a progress display and print the story."""
    _prepare_environment(DEMO_HOME)
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    console = Console()
    console.rule("[bold]prefect-soar demo")
    with console.status("starting...") as status:
        steps = asyncio.run(run_demo(progress=lambda title: status.update(f"[bold cyan]{title}...")))
    for step in steps:
        table = Table.grid(padding=(0, 2))
        for line in step.lines:
            table.add_row(line)
        subtitle = f"{step.seconds:.1f}s" if step.seconds else None
        console.print(Panel(table, title=step.title, subtitle=subtitle, expand=False))
    prefect_home = os.environ["PREFECT_HOME"]
    console.print(
        "[bold green]Done.[/] Browse the runs, artifacts and events in the Prefect UI:\n"
        f"  PREFECT_HOME={prefect_home} .venv/bin/prefect server start   # then open http://127.0.0.1:4200\n"
        "Run the lab by itself with: .venv/bin/prefect-soar lab"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
