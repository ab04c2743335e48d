"""`make demo` runs `prefect-soar demo`: it must work on a fresh directory, print no traceback or ERROR, exit 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_runs_clean_twice(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    outputs = []
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-m", "prefect_soar.cli", "demo"], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=300,
        )
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        assert "Traceback" not in output and "ERROR" not in output and "CancelledError" not in output, output
        outputs.append(output)
    for output in outputs:
        assert "sandbox tasks triaged:" in output
        assert "second run: 0 new sandbox tasks, 0 tasks created" in output
        assert "Acronis failed tasks recorded:" in output and "TileDB SQL report:" in output
        assert "DANGEROUS, ThreatConnect task" in output
    assert (tmp_path / ".soar" / "prefect").is_dir(), "Prefect state stays in the project folder"
