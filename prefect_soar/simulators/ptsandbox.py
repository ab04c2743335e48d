"""PT Sandbox emulator: the public API, the UI API and its IdP login, on one loopback host.

Surfaces (wire facts from ``../shared/reference/ptsandbox.md``):

* ``/api/v1`` and ``/api/debug``: public API, header ``X-Api-Key``; JSON bodies wrapped in
  ``{"data": ..., "errors": []}`` (``listTasks`` is top-level ``{tasks, next_cursor}``);
* ``/api/ui``: UI API, ``Authorization: Bearer <accessToken>``; un-wrapped JSON except the
  ``auth`` and ``system`` rows, which are ``{"data": ..., "errors": []}``;
* the IdP on the same host: ``POST /ui/login`` and ``GET /connect/authorize``.

UI login dance (cookies are host-only, ``Path=/``, so they work for a bare IP like 127.0.0.1):

1. ``GET /api/ui/auth/authorize?fingerprint=<fp>`` -> ``{"data": {"location":
   "<scheme>://<host>/connect/authorize?client_id=sandbox&response_type=code&state=..."}, "errors": []}``;
2. ``POST <scheme>://<host>/ui/login`` ``{"username", "password", "authType": 0|1, "rememberLogin"}``
   -> 200 and cookie ``idsrv.session`` (401 on bad credentials, 400 on a bad body);
3. ``GET <location>`` with that cookie -> 302 to ``/api/ui/auth/callback?code=..&state=..``, which
   sets cookie ``sandbox_refresh_token`` (follow redirects!);
4. ``POST /api/ui/auth/token`` ``{"fingerprint": fp}`` with that cookie ->
   ``{"data": {"accessToken": "<JWT>"}, "errors": []}``; the JWT (HS256, ``exp`` claim) lives
   ``LabControl.token_ttl(settings.token_lifetime_seconds)`` seconds, then answers 401. Calling
   step 4 again refreshes it.

Errors: ``/api/v1`` and ``/api/debug`` answer ``{"data": {}, "errors": [{"type", "message"}]}``;
the UI and the IdP answer ``{"errors": [{"type", "message"}]}``. ``type`` is the aiohttp-style
class name of the status (``HTTPNotFound``, ``HTTPBadRequest``, ``HTTPUnauthorized``, ...), as in
PT's own 404 for an unknown ``file_uri``. Injected lab faults use the public envelope (which
the UI parser reads just as well).

The query language accepted by ``query`` is documented in :mod:`.ptsandbox_ql`; the data set
in :mod:`.ptsandbox_data` and :mod:`.ptsandbox_tree`; the rules in :mod:`.ptsandbox_backend`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefect_soar.simulators._lab import FaultConfig, LabControl, install_lab
from prefect_soar.simulators.ptsandbox_backend import ERROR_TYPES, LabAPIError, PTSandboxBackend, parse_uuid
from prefect_soar.simulators.ptsandbox_data import (
    CSV_COLUMNS,
    DEFAULT_API_KEY,
    DEFAULT_LOGIN,
    DEFAULT_PASSWORD,
    VERSION,
    PTSandboxLabSettings,
    csv_value,
    task_json,
)
from prefect_soar.simulators.ptsandbox_tree import SANDBOX_IMAGE

__all__ = ["LAB_CREDENTIALS", "PTSandboxBackend", "PTSandboxLabSettings", "create_app", "error_body"]

LAB_CREDENTIALS: dict[str, str] = {"api_key": DEFAULT_API_KEY, "login": DEFAULT_LOGIN, "password": DEFAULT_PASSWORD}
"""Block field -> value the lab accepts with default settings."""

SESSION_COOKIE = "idsrv.session"
REFRESH_COOKIE = "sandbox_refresh_token"
_PUBLIC_PREFIXES = ("/api/v1", "/api/debug")


def error_body(status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    """The public-API error envelope (also used for injected lab faults)."""
    return {"data": {}, "errors": [{"type": error_type or ERROR_TYPES.get(status, "HTTPError"), "message": message}]}


def ui_error_body(status: int, message: str, error_type: str | None = None) -> dict[str, Any]:
    """The UI/IdP error body."""
    return {"errors": [{"type": error_type or ERROR_TYPES.get(status, "HTTPError"), "message": message}]}


def _error_response(request: Request, status: int, message: str, error_type: str | None = None) -> JSONResponse:
    public = request.url.path.startswith(_PUBLIC_PREFIXES)
    body = (error_body if public else ui_error_body)(status, message, error_type)
    headers = {"WWW-Authenticate": "Bearer" if not public else "X-Api-Key"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _data(payload: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"data": payload, "errors": []}, status_code=status)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise LabAPIError(400, "request body is not valid JSON") from None


def _bool_param(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise LabAPIError(400, f'{name} must be the string "true" or "false", got {value!r}')
    return value == "true"


def _int_list(name: str, value: str | None) -> list[int] | None:
    if value is None or value == "":
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise LabAPIError(400, f"{name} must be comma-joined integers like 0,2,10") from None


def _backend(request: Request) -> PTSandboxBackend:
    return request.app.state.backend  # type: ignore[no-any-return]


def _api_key(request: Request) -> str:
    return _backend(request).check_api_key(request.headers.get("x-api-key"))


def _bearer(request: Request) -> dict[str, Any]:
    return _backend(request).check_access_token(request.headers.get("authorization"))


ApiKey = Annotated[str, Depends(_api_key)]
Backend = Annotated[PTSandboxBackend, Depends(_backend)]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LabAPIError)
    async def lab_error(request: Request, exc: LabAPIError) -> JSONResponse:
        return _error_response(request, exc.status, exc.message, exc.error_type)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return _error_response(request, 400, f"{where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error_response(request, exc.status_code, str(exc.detail))


def _auth_routes(app: FastAPI) -> None:
    @app.get("/api/ui/auth/authorize", tags=["ui auth"])
    async def authorize(request: Request, backend: Backend, fingerprint: str = "") -> JSONResponse:
        state = backend.start_authorization(fingerprint)
        base = str(request.base_url).rstrip("/")
        return _data({"location": f"{base}/connect/authorize?client_id=sandbox&response_type=code&state={state}"})

    @app.post("/ui/login", tags=["idp"])
    async def idp_login(request: Request, backend: Backend) -> JSONResponse:
        session = backend.idp_login(await _json_body(request))
        response = JSONResponse({})
        response.set_cookie(SESSION_COOKIE, session, path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        return response

    @app.get("/connect/authorize", tags=["idp"])
    async def idp_authorize(
        request: Request, backend: Backend, state: str = "", client_id: str = "", response_type: str = "code",
    ) -> Response:
        code = backend.idp_authorize(request.cookies.get(SESSION_COOKIE), state, client_id)
        return RedirectResponse(f"/api/ui/auth/callback?code={code}&state={state}", status_code=302)

    @app.get("/api/ui/auth/callback", tags=["ui auth"])
    async def callback(request: Request, backend: Backend, code: str = "") -> Response:
        refresh = backend.redeem_code(code)
        response = HTMLResponse("<!doctype html><title>PT Sandbox lab</title><p>Signed in.</p>")
        response.set_cookie(REFRESH_COOKIE, refresh, path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/api/ui/auth/token", tags=["ui auth"])
    async def token(request: Request, backend: Backend) -> JSONResponse:
        body = await _json_body(request)
        fingerprint = body.get("fingerprint") if isinstance(body, dict) else None
        return _data({"accessToken": backend.issue_access_token(request.cookies.get(REFRESH_COOKIE), fingerprint)})


def _csv_stream(backend: PTSandboxBackend, rows: list[Any], columns: list[str], utc_offset: int) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    seed = backend.settings.seed
    for row in rows:
        writer.writerow([csv_value(seed, row, column, utc_offset) for column in columns])
        if buffer.tell() >= 65536:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _ui_routes() -> APIRouter:
    ui = APIRouter(prefix="/api/ui", dependencies=[Depends(_bearer)], tags=["ui"])

    @ui.get("/v2/tasks")
    async def list_tasks(
        backend: Backend, query: str = "", limit: int = 20, offset: int = 0,
        utc_offset: Annotated[int, Query(alias="utcOffsetSeconds")] = 0,
        next_cursor: Annotated[str | None, Query(alias="nextCursor")] = None,
    ) -> JSONResponse:
        page = backend.list_tasks(query, limit, offset, utc_offset, next_cursor)
        seed = backend.settings.seed
        return JSONResponse({
            "tasks": [task_json(seed, row) for row in page.rows],
            "currentCursor": page.current_cursor,
            "nextCursor": page.next_cursor,
        })

    @ui.get("/v2/tasks/export")
    async def export_tasks(
        backend: Backend, format: str = "CSV", query: str = "", columns: str = "",
        utc_offset: Annotated[int, Query(alias="utcOffsetSeconds")] = 0,
    ) -> StreamingResponse:
        if format.upper() != "CSV":
            raise LabAPIError(400, f"format {format!r} is not supported; only CSV")
        chosen = [c for c in columns.split(",") if c] or list(CSV_COLUMNS)
        unknown = [c for c in chosen if c not in CSV_COLUMNS]
        if unknown:
            raise LabAPIError(400, f"unknown columns {', '.join(unknown)}; known: {', '.join(CSV_COLUMNS)}")
        rows = backend.export_rows(query, utc_offset)
        return StreamingResponse(
            _csv_stream(backend, rows, chosen, utc_offset), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="tasks.csv"'},
        )

    @ui.get("/v2/tasks/filter-values")
    @ui.get("/v2/artifacts/filter-values")
    async def filter_values(
        backend: Backend, scan_id: Annotated[str | None, Query(alias="scanId")] = None,
        time_from: Annotated[str | None, Query(alias="from")] = None, to: str | None = None,
    ) -> JSONResponse:
        return JSONResponse(backend.filter_values(scan_id, time_from, to))

    @ui.get("/v2/tasks/{scan_id}/summary")
    async def summary(backend: Backend, scan_id: str) -> JSONResponse:
        return JSONResponse({"task": task_json(backend.settings.seed, backend.task(scan_id), with_events=True)})

    @ui.get("/v2/tasks/{scan_id}/tree")
    async def tree(
        backend: Backend, scan_id: str, limit: int = 1000, offset: int = 0,
        max_tree_level: Annotated[int, Query(alias="maxTreeLevel")] = 3,
        sort_mode: Annotated[str, Query(alias="sortMode")] = "DANGEROUS",
        parent_path: Annotated[str | None, Query(alias="parentPath")] = None,
        filtered_by_ids: Annotated[str | None, Query(alias="filteredByIds")] = None,
    ) -> JSONResponse:
        if sort_mode not in ("DANGEROUS", "ALPHABETICAL"):
            raise LabAPIError(400, "sortMode must be DANGEROUS or ALPHABETICAL")
        if not 0 <= limit <= 10000 or offset < 0 or max_tree_level < 1:
            raise LabAPIError(400, "limit must be 0..10000, offset >= 0 and maxTreeLevel >= 1")
        filtered = _int_list("filteredByIds", filtered_by_ids)
        children, has_more = backend.tree_page(
            scan_id, parent_path=_int_list("parentPath", parent_path), filtered_ids=set(filtered) if filtered else None,
            limit=limit, offset=offset, max_tree_level=max_tree_level, sort_mode=sort_mode,
        )
        return JSONResponse({"children": children, "hasMore": has_more})

    @ui.get("/v2/tasks/{scan_id}/artifacts/{node_id}/scans")
    async def node_scans(backend: Backend, scan_id: str, node_id: int) -> JSONResponse:
        return JSONResponse(backend.node_scans(scan_id, node_id))

    @ui.get("/v2/tasks/{scan_id}/tree/download")
    async def download_tree(
        backend: Backend, scan_id: str, query: str = "",
        include_logs: Annotated[str, Query(alias="includeSandboxLogs")] = "true",
        skip_data_files: Annotated[str, Query(alias="skipDataFiles")] = "false",
    ) -> FileResponse:
        key, members = backend.task_archive_members(
            scan_id, query, _bool_param("includeSandboxLogs", include_logs),
            _bool_param("skipDataFiles", skip_data_files),
        )
        path = await run_in_threadpool(backend.archive, key, members)
        return FileResponse(path, media_type="application/zip", filename=f"{parse_uuid(scan_id)}.zip")

    @ui.get("/storage/download")
    async def download_files(backend: Backend, items: str = "") -> FileResponse:
        try:
            parsed = json.loads(items)
        except ValueError:
            raise LabAPIError(400, 'items must be a JSON list like [{"sha256": "...", "name": "a.exe"}]') from None
        key, members = backend.files_archive_members(parsed)
        path = await run_in_threadpool(backend.archive, key, members)
        return FileResponse(path, media_type="application/zip", filename="files.zip")

    @ui.get("/system/version")
    async def system_version() -> JSONResponse:
        return _data({"version": VERSION, "eosTs": 1893456000, "eosStatus": "SUPPORTED"})

    return ui


def _public_routes() -> tuple[APIRouter, APIRouter]:
    v1 = APIRouter(prefix="/api/v1", tags=["public api"])
    debug = APIRouter(prefix="/api/debug", tags=["debug api"])

    async def scan_answer(backend: PTSandboxBackend, key: str, row: Any, body: dict[str, Any]) -> JSONResponse:
        if body.get("async_result", True) is False:
            await asyncio.sleep(backend.seconds_until_done(row) + 0.01)
            return _data(backend.report(key, row.id, short_result=bool(body.get("short_result"))))
        return _data({"scan_id": row.id})

    @v1.post("/storage/uploadScanFile")
    async def upload(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        length = request.headers.get("content-length")
        if "chunked" in request.headers.get("transfer-encoding", "").lower() or length is None:
            raise LabAPIError(411, "Content-Length required: the sandbox can't handle chunked uploads")
        try:
            size = int(length)
        except ValueError:
            raise LabAPIError(400, "invalid Content-Length") from None
        if size > backend.settings.max_upload_bytes:
            raise LabAPIError(413, f"upload of {size} bytes exceeds the limit of {backend.settings.max_upload_bytes}")
        return _data(backend.upload(key, await request.body()))

    @v1.post("/analysis/createScanTask")
    async def create_scan(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        body = await _json_body(request)
        return await scan_answer(backend, key, backend.create_file_scan(key, body), body)

    @debug.post("/analysis/createBAScanTask")
    async def create_ba_scan(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        body = await _json_body(request)
        return await scan_answer(backend, key, backend.create_file_scan(key, body), body)

    @v1.post("/analysis/createScanURLTask")
    async def create_url_scan(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        body = await _json_body(request)
        return await scan_answer(backend, key, backend.create_url_scan(key, body), body)

    @v1.post("/analysis/checkTask")
    async def check_task(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        return _data(backend.check_task(key, await _json_body(request)))

    @v1.post("/analysis/report")
    async def report(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        body = await _json_body(request)
        return _data(backend.report(key, body.get("scan_id") if isinstance(body, dict) else None))

    @v1.post("/analysis/listTasks")
    async def list_tasks(request: Request, backend: Backend, key: ApiKey) -> JSONResponse:
        return JSONResponse(backend.public_list(key, await _json_body(request)))

    @v1.post("/storage/downloadArtifact")
    async def download_artifact(request: Request, backend: Backend, key: ApiKey) -> Response:
        chunks = backend.download_artifact(key, await _json_body(request))
        return Response(b"".join(chunks), media_type="application/octet-stream")

    @v1.get("/maintenance/checkHealth")
    async def check_health(key: ApiKey) -> JSONResponse:
        return _data({"status": "OK"})

    @v1.get("/maintenance/getVersion")
    async def get_version(key: ApiKey) -> JSONResponse:
        return _data({"version": VERSION, "edition": ""})

    @v1.post("/engines/sandbox/getImages")
    async def get_images(key: ApiKey) -> JSONResponse:
        image = SANDBOX_IMAGE
        os_info = {**image["os"], "service_pack": image["os"]["servicePack"]}
        os_info.pop("servicePack")
        return _data([{"image_id": image["name"], "type": image["type"], "version": image["version"], "os": os_info}])

    @debug.post("/analysis/getHeaders")
    async def get_headers(request: Request, key: ApiKey) -> Response:
        raw = await request.body()
        head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        return Response(head + b"\n", media_type="application/octet-stream")

    return v1, debug


def create_app(
    settings: PTSandboxLabSettings | dict[str, Any] | None = None, faults: FaultConfig | None = None,
) -> FastAPI:
    """A fresh PT Sandbox emulator.

    Args:
        settings: :class:`PTSandboxLabSettings` (or a dict of its fields); defaults when ``None``.
        faults: Faults to inject from the start (changeable at ``/_lab/faults``).

    Returns:
        The app, with ``app.state.backend`` (a :class:`PTSandboxBackend`) and ``app.state.lab``.
    """
    if isinstance(settings, dict):
        settings = PTSandboxLabSettings.model_validate(settings)
    backend = PTSandboxBackend(settings)
    control = LabControl(faults, reset=backend.reset)
    backend.token_ttl = lambda: control.token_ttl(backend.settings.token_lifetime_seconds)
    app = FastAPI(title="PT Sandbox lab emulator", version=VERSION, description=__doc__)
    app.state.backend = backend
    _install_error_handlers(app)
    _auth_routes(app)
    app.include_router(_ui_routes())
    v1, debug = _public_routes()
    app.include_router(v1)
    app.include_router(debug)
    return install_lab(app, control, error_body=error_body)
