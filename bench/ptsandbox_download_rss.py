"""Peak memory of ``PTSandboxClient.download_task_artifacts`` on a big archive.

Issue 2 asks that downloading a 200 MB artifact archive keeps the process's peak RSS under
100 MB. This script serves the PT Sandbox emulator (in a thread of this process) with every
task archive padded by ``--mib`` MiB of incompressible bytes, then downloads one archive with
the real client **in a child process**, so that the child's ``ru_maxrss`` measures the client
alone (Python, httpx, pydantic, the client, and the streamed download).

Run it::

    .venv/bin/python bench/ptsandbox_download_rss.py            # 200 MiB
    .venv/bin/python bench/ptsandbox_download_rss.py --mib 64 --json

It prints the downloading process's peak RSS, its RSS before the download (after imports) and
the archive size; the exit status is 1 when the peak is over ``--limit-mb`` (default 100).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

MIB = 1024 * 1024
_CREDENTIALS_ENV = "PTSANDBOX_BENCH_CREDENTIALS"
# Linux carries ru_maxrss over fork + exec: a child exec'd straight from a big process (pytest, or
# this one with the emulator loaded) reports the parent's peak. A stdlib-only launcher in between
# has a small peak of its own, so the downloader's ru_maxrss measures the downloader.
_LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


def _rss_mib() -> float:
    """Peak RSS of this process so far (``ru_maxrss``: KiB on Linux, bytes on macOS), in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024


def _hwm_mib() -> float | None:
    """The kernel's own high-water mark of this process (``VmHWM``), in MiB, where /proc has it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _child(base_url: str, dest_dir: str) -> None:
    """Download the first task's archive; print one JSON line with the RSS figures."""
    from prefect_soar.clients.ptsandbox import PTSandboxClient  # the client only: no emulator, no Prefect

    credentials = json.loads(os.environ[_CREDENTIALS_ENV])

    async def run() -> dict[str, Any]:
        async with PTSandboxClient(base_url, timeout=120, **credentials) as client:
            first = (await client.get_tasks(limit=1)).tasks[0]
            baseline = _rss_mib()
            started = time.perf_counter()
            saved = await client.download_task_artifacts(first.id, dest_dir)
            elapsed = time.perf_counter() - started
        hwm = _hwm_mib()
        return {
            "size_bytes": saved.size,
            "baseline_rss_mib": round(baseline, 1),
            "peak_rss_mib": round(_rss_mib(), 1),
            "vm_hwm_mib": round(hwm, 1) if hwm is not None else None,
            "download_seconds": round(elapsed, 2),
        }

    print(json.dumps(asyncio.run(run())))


def measure(padding_mib: int = 200) -> dict[str, Any]:
    """Serve the emulator with padded archives and measure one download in a child process.

    Args:
        padding_mib: MiB of incompressible padding added to every task archive.

    Returns:
        ``size_bytes``, ``baseline_rss_mib`` (downloader's peak RSS after imports and login),
        ``peak_rss_mib`` (its peak RSS, ``ru_maxrss``), ``vm_hwm_mib`` (the same from /proc,
        or None) and ``download_seconds``.
    """
    from prefect_soar.simulators._lab import LabServer
    from prefect_soar.simulators.ptsandbox import LAB_CREDENTIALS, PTSandboxLabSettings, create_app

    settings = PTSandboxLabSettings(task_count=3, archive_padding_bytes=padding_mib * MIB)
    with LabServer(create_app(settings)) as server, tempfile.TemporaryDirectory() as dest:
        child = [sys.executable, os.path.abspath(__file__), "--child", server.base_url, dest]
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *child],
            capture_output=True, text=True, timeout=600, check=False,
            env={**os.environ, _CREDENTIALS_ENV: json.dumps(LAB_CREDENTIALS)},
        )
        if done.returncode != 0:
            raise RuntimeError(f"the download process failed:\n{done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["padding_mib"] = padding_mib
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200, help="padding of each archive in MiB (default 200)")
    parser.add_argument("--limit-mb", type=float, default=100.0, help="peak RSS budget in MB (default 100)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "DEST_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(*args.child)
        return 0
    result = measure(args.mib)
    peak_mb = result["peak_rss_mib"] * MIB / 1_000_000
    result["peak_rss_mb"] = round(peak_mb, 1)
    result["within_budget"] = peak_mb < args.limit_mb
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"PT Sandbox download of a {result['size_bytes'] / MIB:.1f} MiB archive in "
            f"{result['download_seconds']} s: peak RSS {result['peak_rss_mib']} MiB ({peak_mb:.1f} MB), "
            f"{result['baseline_rss_mib']} MiB before the download (VmHWM {result['vm_hwm_mib']} MiB); "
            f"budget {args.limit_mb:g} MB: "
            f"{'OK' if result['within_budget'] else 'EXCEEDED'}"
        )
    return 0 if result["within_budget"] else 1


if __name__ == "__main__":
    sys.exit(main())
