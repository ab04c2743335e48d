"""ThreatConnect emulator: the v2 Tasks API (and what tasks link to), stateful, with HMAC and token auth.

``create_app()`` builds a FastAPI app serving ``/api/v2/...``; a client's base URL is
``http://<host>:<port>/api``. Every ``/api`` request must carry either
``Authorization: TC <accessId>:<signature>`` with a ``Timestamp`` header (HMAC-SHA256 over the
raw path and query as sent, ``:METHOD:timestamp``; ±5 minutes) or
``Authorization: TC-Token <token>``; otherwise 401 ``{"status": "Failure", "message": ...}``.

State lives in ``app.state.backend`` (:class:`ThreatConnectBackend`, ``reset()``); the lab layer
(``/_lab/faults``, ``/_lab/reset``, ``/_lab/stats``) and lab helpers under
``/_lab/threatconnect`` (create groups, indicators, victims, task-to-task links; dump tasks) are
unauthenticated. ``LAB_CREDENTIALS`` holds what the default settings accept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefect_soar.simulators._lab import CONTROL_PREFIX, FaultConfig, LabControl, install_lab
from prefect_soar.simulators.threatconnect_auth import Authenticator, AuthFailure, request_target
from prefect_soar.simulators.threatconnect_backend import ThreatConnectBackend, ThreatConnectLabSettings
from prefect_soar.simulators.threatconnect_records import NOT_FOUND, ThreatConnectError
from prefect_soar.simulators.threatconnect_routes import build_admin_router, build_v2_router

__all__ = ["LAB_CREDENTIALS", "ThreatConnectBackend", "ThreatConnectLabSettings", "create_app", "failure_body"]

API_PREFIX = "/api"
ADMIN_PREFIX = f"{CONTROL_PREFIX}/threatconnect"

_DEFAULTS = ThreatConnectLabSettings()
LAB_CREDENTIALS: dict[str, str] = {
    "access_id": _DEFAULTS.access_id,
    "secret_key": _DEFAULTS.secret_key,
    "api_token": _DEFAULTS.api_token,
    "default_owner": _DEFAULTS.owners[0],
}
"""Block field -> value the default lab accepts (HMAC pair, token, default owner)."""

_V3_ERROR_CODES = {400: "0x1001", 401: "0x1002", 403: "0x1003", 404: "0x1004", 405: "0x1005", 409: "0x1006",
                   500: "0x1007"}


def failure_body(status: int, message: str, *, path: str = "") -> dict[str, Any]:
    """The API's error envelope: v2 ``{"status": "Failure", "message": ...}``; v3 with ``errCode``."""
    if path.startswith(f"{API_PREFIX}/v3"):
        return {"errCode": _V3_ERROR_CODES.get(status, "0x1007"), "message": message, "status": "Error"}
    return {"status": "Failure", "message": message}


class _ApiAuth:
    """ASGI middleware: authenticate every ``/api`` request before routing."""

    def __init__(self, app: Any, authenticator: Authenticator, stats: Callable[[str], None]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.stats = stats

    async def __call__(self, scope: Mapping[str, Any], receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == API_PREFIX or path.startswith(f"{API_PREFIX}/")):
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or path.encode()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            how = self.authenticator.check(scope["method"], request_target(raw_path, scope.get("query_string", b"")),
                                           headers)
        except AuthFailure as failure:
            self.stats("auth_failures")
            body = json.dumps(failure_body(401, failure.message, path=path), separators=(",", ":")).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        self.stats(f"auth_{how}")
        await self.app(scope, receive, send)


def _install_error_handlers(app: FastAPI) -> None:
    def render(request: Request, status: int, message: str) -> JSONResponse:
        return JSONResponse(failure_body(status, message, path=request.url.path), status_code=status)

    async def vendor_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ThreatConnectError)
        return render(request, exc.status_code, exc.message)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = NOT_FOUND if exc.status_code == 404 else str(exc.detail)
        return render(request, exc.status_code, message)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return render(request, 400, f"Invalid request: {problems}")

    app.add_exception_handler(ThreatConnectError, vendor_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def create_app(
    settings: ThreatConnectLabSettings | Mapping[str, Any] | None = None, faults: FaultConfig | None = None
) -> FastAPI:
    """A fresh ThreatConnect emulator with its own seeded state.

    Args:
        settings: Credentials, owners, labels, users and seeding (default :class:`ThreatConnectLabSettings`).
        faults: Faults to inject from the start.

    Returns:
        The app, with ``app.state.backend`` (the state) and ``app.state.lab`` (fault control).
    """
    if isinstance(settings, Mapping):
        settings = ThreatConnectLabSettings.model_validate(dict(settings))
    settings = settings or ThreatConnectLabSettings()
    backend = ThreatConnectBackend(settings)
    control = LabControl(faults, reset=backend.reset)
    app = FastAPI(title="ThreatConnect lab emulator", description=__doc__, redirect_slashes=False)
    app.state.backend = backend
    app.state.settings = settings
    app.include_router(build_v2_router(backend))
    app.include_router(build_admin_router(backend, ADMIN_PREFIX))
    _install_error_handlers(app)

    def count(name: str) -> None:
        control.stats[name] += 1

    authenticator = Authenticator(
        access_id=settings.access_id, secret_key=settings.secret_key, api_token=settings.api_token,
        window_seconds=settings.timestamp_window_seconds, clock=lambda: float(backend.clock()),
        token_expires_at=lambda: backend.token_issued_at + control.token_ttl(math.inf),
    )
    app.add_middleware(_ApiAuth, authenticator=authenticator, stats=count)
    install_lab(app, control, error_body=lambda status, message: failure_body(status, message))
    return app
