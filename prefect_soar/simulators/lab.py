"""Start several emulators at once: the lab used by ``prefect-soar lab``, the demo, tests and benchmarks."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect_soar.simulators import SERVICES
from prefect_soar.simulators._lab import FaultConfig, LabServer


@dataclass
class LabService:
    """One running emulator."""

    name: str
    server: LabServer
    credentials: dict[str, str]

    @property
    def base_url(self) -> str:
        """Root URL of the emulator."""
        return self.server.base_url

    @property
    def backend(self) -> Any:
        """The emulator's state, for tests to inspect."""
        return self.server.app.state.backend


@dataclass
class Lab:
    """A set of running emulators on loopback.

    Args:
        services: Names to start (default: all four).
        ports: Name -> port; 0 or missing picks a free port.
        faults: Faults for every service (each keeps its own random source).
        settings: Name -> emulator settings object.
        tls_dir: When set, serve TLS with a CA generated in this folder.
    """

    services: Iterable[str] = tuple(SERVICES)
    ports: Mapping[str, int] = field(default_factory=dict)
    faults: FaultConfig | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    tls_dir: Path | None = None
    running: dict[str, LabService] = field(default_factory=dict)
    ca_path: Path | None = None

    def start(self) -> Lab:
        """Start every service; return self."""
        certfile = keyfile = None
        if self.tls_dir is not None:
            from prefect_soar.simulators._tls import make_lab_certificates

            paths = make_lab_certificates(Path(self.tls_dir))
            self.ca_path, certfile, keyfile = paths.ca, str(paths.cert), str(paths.key)
        try:
            for name in self.services:
                module = importlib.import_module(f"prefect_soar.simulators.{name}")
                faults = self.faults.model_copy() if self.faults else None
                app = module.create_app(self.settings.get(name), faults=faults)
                server = LabServer(app, port=self.ports.get(name, 0), certfile=certfile, keyfile=keyfile).start()
                self.running[name] = LabService(name, server, dict(module.LAB_CREDENTIALS))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every running service."""
        for service in self.running.values():
            service.server.stop()
        self.running.clear()

    def __getitem__(self, name: str) -> LabService:
        return self.running[name]

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
