"""prefect-soar: Prefect 3 integrations for security automation (SOAR).

The credential blocks are re-exported here, lazily (PEP 562), so that
``prefect block register -m prefect_soar`` finds them while ``import prefect_soar.clients...``
stays free of Prefect. Prefect's ``prefect.collections`` entry point loads
:mod:`prefect_soar.blocks` directly.
"""

from __future__ import annotations

from typing import Any

from prefect_soar._version import __version__

BLOCKS = ("PTSandboxCredentials", "ThreatConnectCredentials", "AcronisCredentials", "TileDBCredentials")

__all__ = ["__version__", *BLOCKS]


def __getattr__(name: str) -> Any:
    if name in BLOCKS:
        from prefect_soar import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'prefect_soar' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *BLOCKS])
