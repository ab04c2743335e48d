"""A big artifact download runs in constant memory (the issue's 200 MB / 100 MB budget, scaled down)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ptsandbox_download_rss.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("ptsandbox_download_rss", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_64_mib_download_does_not_grow_the_downloading_process():
    result = load_bench().measure(padding_mib=64)
    assert result["size_bytes"] > 64 * 1024 * 1024
    growth_mb = (result["peak_rss_mib"] - result["baseline_rss_mib"]) * 1024 * 1024 / 1_000_000
    assert growth_mb < 60, result  # a buffered download would grow by the archive size (> 67 MB)
    assert result["peak_rss_mib"] * 1024 * 1024 / 1_000_000 < 100, result
    if result["vm_hwm_mib"] is not None:  # ru_maxrss is the downloader's own, not inherited from pytest
        assert abs(result["peak_rss_mib"] - result["vm_hwm_mib"]) < 5, result
