"""Prefect credential blocks, one per service. Importing this module registers them."""

from __future__ import annotations

import importlib

_MODULES = {
    "PTSandboxCredentials": "prefect_soar.blocks.ptsandbox",
    "ThreatConnectCredentials": "prefect_soar.blocks.threatconnect",
    "AcronisCredentials": "prefect_soar.blocks.acronis",
    "TileDBCredentials": "prefect_soar.blocks.tiledb",
}

__all__: list[str] = []
for _name, _module in _MODULES.items():
    try:
        globals()[_name] = getattr(importlib.import_module(_module), _name)
    except ModuleNotFoundError as _exc:  # a service not built yet
        if _exc.name != _module:
            raise
    else:
        __all__.append(_name)
