"""The lab layer shared by every emulator: fault injection, control endpoints, token clock, server.

Each emulator is a FastAPI app built by its module's ``create_app()``; :func:`install_lab`
adds to it, under the ``/_lab`` control prefix (never faulted, never authenticated):

* ``GET|PUT /_lab/faults``: the :class:`FaultConfig` in force (latency, error rates by status
  code with ``Retry-After``, dropped connections, token lifetime), changeable at run time;
* ``POST /_lab/reset``: back to the seeded state; ``GET /_lab/stats``: counters.

Faults are drawn from a seeded random source, so a run is repeatable. A dropped connection is
a response whose headers promise a body that never comes: the client sees the peer close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

CONTROL_PREFIX = "/_lab"

ErrorBody = Callable[[int, str], Any]


class FaultConfig(BaseModel):
    """Faults the lab injects into every non-control request.

    Attributes:
        latency_ms: Added latency per request, in milliseconds.
        latency_jitter_ms: Up to this many extra milliseconds, drawn uniformly.
        errors: Status code -> share of requests answered with it (e.g. ``{503: 0.1, 429: 0.05}``).
        retry_after_seconds: ``Retry-After`` sent with injected 429 and 503 answers (``None``: omit).
        drop_rate: Share of requests whose connection is dropped mid-response.
        token_ttl_seconds: Lifetime of issued tokens (``None``: the emulator's default).
        seed: Seed of the fault random source.
    """

    latency_ms: float = Field(default=0.0, ge=0)
    latency_jitter_ms: float = Field(default=0.0, ge=0)
    errors: dict[int, float] = Field(default_factory=dict)
    retry_after_seconds: float | None = 1.0
    drop_rate: float = Field(default=0.0, ge=0, le=1)
    token_ttl_seconds: float | None = None
    seed: int = 0


class LabDroppedConnection(Exception):
    """Raised inside the server to drop a connection on purpose; filtered from its logs."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, LabDroppedConnection)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class LabControl:
    """Fault state and counters of one emulator, plus its reset hook."""

    def __init__(self, faults: FaultConfig | None = None, *, reset: Callable[[], None] | None = None) -> None:
        self.faults = faults or FaultConfig()
        self.random = random.Random(self.faults.seed)
        self.stats: Counter[str] = Counter()
        self._reset = reset
        self._lock = threading.Lock()

    def set_faults(self, faults: FaultConfig) -> None:
        """Replace the faults in force and reseed the random source."""
        with self._lock:
            self.faults = faults
            self.random = random.Random(faults.seed)

    def reset(self) -> None:
        """Restore the seeded data set and clear counters (faults are kept)."""
        if self._reset is not None:
            self._reset()
        self.stats.clear()

    def token_ttl(self, default: float) -> float:
        """Lifetime for a newly issued token: the fault override or the emulator's default."""
        ttl = self.faults.token_ttl_seconds
        return default if ttl is None else ttl

    def draw(self) -> tuple[float, int | None, bool]:
        """Draw this request's fate: (latency seconds, injected status or None, drop?)."""
        with self._lock:
            f = self.faults
            jitter = self.random.uniform(0, f.latency_jitter_ms) if f.latency_jitter_ms else 0.0
            latency = (f.latency_ms + jitter) / 1000
            roll = self.random.random()
            if roll < f.drop_rate:
                return latency, None, True
            roll -= f.drop_rate
            for status, share in sorted(f.errors.items()):
                if roll < share:
                    return latency, int(status), False
                roll -= share
            return latency, None, False


def _default_error_body(status: int, message: str) -> Any:
    return {"message": message}


def install_lab(
    app: FastAPI,
    control: LabControl,
    *,
    error_body: ErrorBody = _default_error_body,
) -> FastAPI:
    """Add fault injection and the ``/_lab`` control endpoints to an emulator app.

    Args:
        app: The emulator.
        control: Its fault state and reset hook.
        error_body: Renders an injected error in the vendor's envelope: ``(status, message) -> JSON``.

    Returns:
        The same app.
    """
    router = APIRouter(prefix=CONTROL_PREFIX, tags=["lab control"])

    @router.get("/faults")
    async def get_faults() -> FaultConfig:
        return control.faults

    @router.put("/faults")
    async def put_faults(faults: FaultConfig) -> FaultConfig:
        control.set_faults(faults)
        return control.faults

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        control.reset()
        return {"status": "reset"}

    @router.get("/stats")
    async def stats() -> dict[str, int]:
        return dict(control.stats)

    app.include_router(router)
    app.state.lab = control
    app.add_middleware(_FaultMiddleware, control=control, error_body=error_body)
    return app


class _FaultMiddleware:
    def __init__(self, app: Any, control: LabControl, error_body: ErrorBody) -> None:
        self.app = app
        self.control = control
        self.error_body = error_body

    async def __call__(
        self, scope: Mapping[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        control = self.control
        control.stats["requests"] += 1
        latency, status, drop = control.draw()
        if latency:
            await asyncio.sleep(latency)
        if drop:
            control.stats["dropped"] += 1
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
            raise LabDroppedConnection("lab fault: connection dropped")
        if status is not None:
            control.stats[f"injected_{status}"] += 1
            body = json.dumps(self.error_body(status, f"lab fault: injected HTTP {status}")).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            retry_after = control.faults.retry_after_seconds
            if status in (429, 503) and retry_after is not None:
                headers.append((b"retry-after", f"{retry_after:g}".encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LabServer:
    """Serve one ASGI app with uvicorn on a background thread (loopback by default).

    Args:
        app: The emulator app.
        host: Interface to bind; keep it on loopback.
        port: Port, or 0 for a free one.
        certfile: Server certificate (PEM) to serve TLS.
        keyfile: Its private key (PEM).

    Use as a context manager; ``base_url`` is known once started.
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
        certfile: str | None = None, keyfile: str | None = None,
    ) -> None:
        import uvicorn

        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self.scheme = "https" if certfile else "http"
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", access_log=False, lifespan="off",
            ssl_certfile=certfile, ssl_keyfile=keyfile, timeout_keep_alive=30, limit_concurrency=None,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8701``."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def control(self) -> LabControl:
        """The app's fault state."""
        return self.app.state.lab  # type: ignore[no-any-return]

    def start(self, timeout: float = 15.0) -> LabServer:
        """Start serving and wait until the socket accepts connections."""
        self._thread = threading.Thread(target=self._server.run, name=f"lab-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"lab server on {self.host}:{self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
