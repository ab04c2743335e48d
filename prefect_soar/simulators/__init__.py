"""The lab: local emulators of the four services' APIs, with fault injection.

Every emulator module ``prefect_soar.simulators.<svc>`` provides:

* ``create_app(settings=None, faults=None) -> FastAPI``: a fresh emulator with its own state,
  ``app.state.backend`` (the state, with ``reset()``) and ``app.state.lab`` (a
  :class:`~prefect_soar.simulators._lab.LabControl`);
* ``LAB_CREDENTIALS``: the credentials the lab accepts, as a dict of block field -> value.

Emulators import nothing from ``prefect_soar.clients``.
"""

from __future__ import annotations

SERVICES: dict[str, int] = {
    "ptsandbox": 8701,
    "threatconnect": 8702,
    "acronis": 8703,
    "tiledb": 8704,
}
"""Service name -> default lab port."""
