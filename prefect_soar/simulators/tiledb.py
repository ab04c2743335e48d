"""TileDB Cloud lab: a local emulator of the v1 tasks and serverless SQL API.

Routes (served under ``/v1`` like ``api.tiledb.com``, and also at the root like the Prism mock,
so both ``http://127.0.0.1:8704/v1`` and ``http://127.0.0.1:8704`` work as a client ``base_url``):

* ``POST /sql/{namespace}``: validates ``SQLParameters``, records a SQL task, waits until it
  completes (``completion_delay_seconds``; the real call is synchronous too) and answers 200 with
  the rows, 204 when there are none (or ``dont_download_results``/``output_uri``), or the Error
  envelope when the query fails; ``X-TILEDB-CLOUD-TASK-ID`` is always set once a task exists;
* ``GET /task/{id}``; ``GET /task/{id}/result``: 202 while running, 200 with the stored result and
  its content type, 404 when not stored, failed, unknown or expired (``result_ttl_seconds``);
* ``GET /tasks``: every filter of the spec (``exclude_type`` csv, ``file_type`` and
  ``exclude_file_type`` repeated), 1-based pages with ``pagination_metadata``, ``array_tasks`` left
  out when empty, the last 7 days by default.

Every call needs ``X-TILEDB-REST-API-KEY`` or Basic auth (else 401
``{"code":401,"message":"Unauthorized","request_id":...}``). The SQL the lab understands is
described in :mod:`prefect_soar.simulators.tiledb_sql`; it produces the ``json`` result format
only (the one the spec declares; others get a 400). Responses validate against TileDB's
official ``openapi-v1.yaml`` (tested); injected 502 faults carry a body the spec does not declare.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefect_soar.simulators._lab import FaultConfig, LabControl, install_lab
from prefect_soar.simulators.tiledb_backend import LabError, TileDBBackend, TileDBLabSettings

API_KEY_HEADER = "X-TILEDB-REST-API-KEY"
TASK_ID_HEADER = "X-TILEDB-CLOUD-TASK-ID"

_DEFAULTS = TileDBLabSettings()
LAB_CREDENTIALS: dict[str, str] = {
    "api_key": _DEFAULTS.api_key,
    "username": _DEFAULTS.username,
    "password": _DEFAULTS.password,
    "namespace": _DEFAULTS.namespace,
}
"""Block field -> value the lab accepts with its default settings."""


def error_body(status: int, message: str) -> dict[str, Any]:
    """TileDB's ``Error`` envelope."""
    return {"code": status, "message": message, "request_id": str(uuid.uuid4())}


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _routes(backend: TileDBBackend) -> APIRouter:
    router = APIRouter()

    async def user(request: Request) -> str:
        return backend.authenticate(request.headers.get(API_KEY_HEADER), _basic(request.headers.get("authorization")))

    @router.post("/sql/{namespace}")
    async def run_sql(namespace: str, request: Request) -> Response:
        username = await user(request)
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise LabError(400, "request body is not valid JSON") from None
        record = backend.submit_sql(namespace, body, username)
        wait = (record.complete_at or 0.0) - backend.now()
        if wait > 0:
            await asyncio.sleep(wait)
        status, content, media_type = backend.sql_answer(record.id)
        headers = {TASK_ID_HEADER: record.id}
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(content, status_code=status, media_type=media_type, headers=headers)

    @router.get("/task/{task_id}")
    async def get_task(task_id: str, request: Request) -> Response:
        await user(request)
        return JSONResponse(backend.get_task(task_id))

    @router.get("/task/{task_id}/result")
    async def get_result(task_id: str, request: Request) -> Response:
        await user(request)
        status, content, media_type = backend.get_result(task_id)
        if status == 202:
            return Response(status_code=202)
        return Response(content, status_code=status, media_type=media_type)

    @router.get("/tasks")
    async def list_tasks(request: Request) -> Response:
        await user(request)
        return JSONResponse(backend.list_tasks(list(request.query_params.multi_items())))

    return router


def create_app(
    settings: TileDBLabSettings | Mapping[str, Any] | None = None, faults: FaultConfig | None = None
) -> FastAPI:
    """Build a fresh TileDB lab.

    Args:
        settings: Credentials, namespaces, task timing and paging (defaults: :data:`LAB_CREDENTIALS`).
        faults: Faults to inject from the start.

    Returns:
        The app, with ``app.state.backend`` (:class:`TileDBBackend`) and ``app.state.lab``.
    """
    if isinstance(settings, Mapping):
        settings = TileDBLabSettings.model_validate(dict(settings))
    backend = TileDBBackend(settings)
    app = FastAPI(title="TileDB Cloud lab", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend
    router = _routes(backend)
    app.include_router(router, prefix="/v1")
    app.include_router(router)

    @app.exception_handler(LabError)
    async def lab_error(request: Request, exc: LabError) -> JSONResponse:
        headers = {TASK_ID_HEADER: exc.task_id} if exc.task_id else None
        return JSONResponse(error_body(exc.status, exc.message), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(400, "invalid request"), status_code=400)

    app.add_middleware(GZipMiddleware, minimum_size=1024)
    return install_lab(app, LabControl(faults, reset=backend.reset), error_body=error_body)


__all__ = ["LAB_CREDENTIALS", "TileDBBackend", "TileDBLabSettings", "create_app", "error_body"]
