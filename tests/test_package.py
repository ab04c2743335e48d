"""Packaging: Prefect discovers the blocks, the layers import only downwards, clients stay Prefect-free."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import prefect_soar

PACKAGE = Path(prefect_soar.__file__).parent
BLOCKS = {"PTSandboxCredentials", "ThreatConnectCredentials", "AcronisCredentials", "TileDBCredentials"}

# layer -> the package-internal layers it may import
CORE = {"_http", "errors", "_redact", "_version"}
ALLOWED = {
    "flows": {"flows", "tasks", "blocks", "clients", "models", "safe_archive", *CORE},
    "tasks": {"tasks", "blocks", "clients", "models", "safe_archive", *CORE},
    "blocks": {"blocks", "clients", "models", *CORE},
    "clients": {"clients", "models", *CORE},
    "models": {"models", "errors", "_version"},
    "simulators": {"simulators", "_version"},
}


def internal_imports(path: Path) -> set[str]:
    """The first component after ``prefect_soar.`` of every package-internal import in a file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("prefect_soar"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("prefect_soar."):
                    found.add(alias.name.split(".")[1])
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layers_import_only_downwards(layer: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"
        for path in (PACKAGE / layer).glob("*.py")
        if (bad := internal_imports(path) - ALLOWED[layer])
    }
    assert not offenders


@pytest.mark.parametrize("layer", ["clients", "models", "simulators"])
def test_lower_layers_do_not_import_prefect(layer: str) -> None:
    offenders = []
    for path in (PACKAGE / layer).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "prefect" or n.startswith("prefect.") for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders


def test_importing_a_client_does_not_load_prefect() -> None:
    code = (
        "import sys, prefect_soar.clients.ptsandbox, prefect_soar.clients.threatconnect;"
        "print('prefect' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_entry_point_loads_the_blocks() -> None:
    [point] = [ep for ep in entry_points(group="prefect.collections") if ep.name == "prefect_soar"]
    module = point.load()
    assert set(module.__all__) >= BLOCKS


def test_blocks_are_re_exported_at_top_level() -> None:
    assert set(dir(prefect_soar)) >= BLOCKS
    assert {getattr(prefect_soar, name).__name__ for name in BLOCKS} == BLOCKS


def test_prefect_block_register_finds_every_block(prefect_harness: None) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    out = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "prefect_soar"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    assert "Successfully registered 4 blocks" in out.stdout, out.stdout
