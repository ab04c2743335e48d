"""Emulator of the Acronis Cyber Protect Cloud Task Manager API v2 (and its OAuth2 token endpoint).

Routes (thin: parse, call :class:`~prefect_soar.simulators.acronis_backend.AcronisBackend`, serialize):

* ``POST /api/2/idp/token``: client credentials (HTTP Basic + form ``grant_type=client_credentials``);
  tokens live ``control.token_ttl(settings.token_ttl_seconds)`` seconds and carry an absolute ``expires_on``;
* ``GET /api/task_manager/v2/tasks``: every filter of the reference, date conditions in all six
  layouts, ``order``, ``lod``, ``limit`` and cursor paging (``after``/``before``);
* ``GET /api/task_manager/v2/tasks/{id}``: one bare task;
* ``GET /api/task_manager/v2/activities``: activities with the same envelope and paging;
* ``POST /_lab/clock``: move the lab clock (``{"advance_seconds": 600}``) so tasks progress.

Errors use the vendor envelope ``{"error": {"code", "message", "domain", "details", "context"}}``.
Not emulated (unverified upstream): task cancel, restarting sustainable activities, scopes (403).
The filters the reference only *observed* (``tag``, ``workflowId``, ``affinity*``, ``allow_deleted``)
match fields whose shape here is the lab's guess (``tags``, ``workflowId``, ``affinity``, ``deleted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefect_soar.simulators._lab import CONTROL_PREFIX, FaultConfig, LabControl, install_lab
from prefect_soar.simulators.acronis_backend import (
    ACTIVITIES,
    TASKS,
    AcronisAPIError,
    AcronisBackend,
    BackendConfig,
    error_body,
    format_ns,
)

LAB_CREDENTIALS: dict[str, str] = {"client_id": "lab-acronis-client", "client_secret": "lab-acronis-secret"}
"""Block field -> value the lab accepts."""

TASK_MANAGER = "/api/task_manager/v2"


class AcronisLabSettings(BaseModel):
    """Settings of one Acronis emulator.

    Attributes:
        client_id: The API client id the token endpoint accepts.
        client_secret: Its secret.
        task_count: Tasks in the seeded data set (including those that arrive after start).
        seed: Seed of the data set.
        now: Freeze the lab clock at this instant (naive means UTC); ``None`` follows the wall clock.
        history_days: How far back the seeded tasks go.
        arrival_share: Share of tasks enqueued after start, over ``arrival_window_seconds``.
        arrival_window_seconds: Window after start in which new tasks arrive.
        token_ttl_seconds: Token lifetime (the service's is 2 hours); lab faults may override it.
        default_limit: Page size when a request gives no ``limit``.
        max_limit: Largest accepted ``limit``.
    """

    client_id: str = LAB_CREDENTIALS["client_id"]
    client_secret: str = LAB_CREDENTIALS["client_secret"]
    task_count: int = Field(default=300, ge=0, le=200_000)
    seed: int = 4
    now: datetime | None = None
    history_days: float = Field(default=14.0, gt=0)
    arrival_share: float = Field(default=0.05, ge=0, le=1)
    arrival_window_seconds: float = Field(default=3600.0, gt=0)
    token_ttl_seconds: float = Field(default=7200.0, gt=0)
    default_limit: int = Field(default=100, ge=1)
    max_limit: int = Field(default=1000, ge=1)

    @field_validator("now")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class ClockAdvance(BaseModel):
    """Body of ``POST /_lab/clock``."""

    advance_seconds: float = Field(default=0.0, ge=0, description="Seconds to move the lab clock forward.")


def create_app(
    settings: AcronisLabSettings | Mapping[str, Any] | None = None, faults: FaultConfig | None = None
) -> FastAPI:
    """Build a fresh Acronis emulator with its own state.

    Args:
        settings: Data set, clock, credentials and paging settings.
        faults: Faults to inject from the start.

    Returns:
        The app, with ``app.state.backend`` (:class:`AcronisBackend`) and ``app.state.lab``.
    """
    if isinstance(settings, Mapping):
        settings = AcronisLabSettings.model_validate(dict(settings))
    settings = settings or AcronisLabSettings()
    backend = AcronisBackend(BackendConfig(
        client_id=settings.client_id, client_secret=settings.client_secret, task_count=settings.task_count,
        seed=settings.seed, now=settings.now, history_seconds=settings.history_days * 86400,
        arrival_share=settings.arrival_share, arrival_seconds=settings.arrival_window_seconds,
        default_limit=settings.default_limit, max_limit=settings.max_limit,
    ))
    app = FastAPI(title="Acronis Task Manager API v2 (prefect-soar lab)", docs_url="/_lab/docs",
                  openapi_url="/_lab/openapi.json", redoc_url=None)
    app.state.backend = backend
    app.state.settings = settings
    control = LabControl(faults, reset=backend.reset)

    @app.exception_handler(AcronisAPIError)
    async def _vendor_error(request: Request, exc: AcronisAPIError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        message = f"Invalid request: {first.get('msg', 'validation failed')}"
        return JSONResponse(error_body(400, message), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.post("/api/2/idp/token")
    async def issue_token(request: Request) -> JSONResponse:
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
        token = backend.issue_token(
            authorization=request.headers.get("authorization"), content_type=request.headers.get("content-type"),
            form=form, ttl=control.token_ttl(settings.token_ttl_seconds),
        )
        return JSONResponse(token)

    @app.get(f"{TASK_MANAGER}/tasks")
    async def list_tasks(request: Request) -> JSONResponse:
        backend.authenticate(request.headers.get("authorization"))
        return JSONResponse(backend.list(TASKS, request.query_params.multi_items()))

    @app.get(f"{TASK_MANAGER}/tasks/{{task_id}}")
    async def get_task(task_id: str, request: Request) -> JSONResponse:
        backend.authenticate(request.headers.get("authorization"))
        return JSONResponse(backend.get_task(task_id))

    @app.get(f"{TASK_MANAGER}/activities")
    async def list_activities(request: Request) -> JSONResponse:
        backend.authenticate(request.headers.get("authorization"))
        return JSONResponse(backend.list(ACTIVITIES, request.query_params.multi_items()))

    @app.post(f"{CONTROL_PREFIX}/clock")
    async def advance_clock(body: ClockAdvance) -> dict[str, Any]:
        return {"now": format_ns(backend.advance(body.advance_seconds))}

    return install_lab(app, control, error_body=lambda status, message: error_body(status, message))


__all__ = ["LAB_CREDENTIALS", "AcronisLabSettings", "create_app"]
