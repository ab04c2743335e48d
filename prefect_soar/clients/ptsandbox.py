"""Async client for PT Sandbox (Positive Technologies): the UI API and the public API.

One :class:`PTSandboxClient` talks to both surfaces of one appliance through one pooled
``httpx.AsyncClient``:

* the **UI API** (``/api/ui``, camelCase): a bearer token obtained by the IdP login dance
  (``authorize`` with a fingerprint → ``POST /ui/login`` on the IdP → ``GET location`` for the
  refresh cookie → ``POST /auth/token``), refreshed before ``token_lifetime`` runs out and once
  more when a call answers 401; it lists tasks, reads trees and scans, and downloads artifacts;
* the **public API** (``/api/v1``, snake_case, ``{"data", "errors"}`` envelope): header
  ``X-Api-Key``; it uploads and scans files and URLs and returns reports.

Retries, error mapping and redaction come from :mod:`prefect_soar._http`. Scan submissions
(``createScanTask``) are never repeated unless the connection provably never opened, so a retry
cannot create a duplicate task.

Example:
    ```python
    async with PTSandboxClient("https://sandbox.example.com", login="soc", password="...") as sandbox:
        async for task in sandbox.iter_tasks("age < 7d ORDER BY start desc", max_items=500):
            print(task.id, task.verdict)
    ```
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from uuid import UUID

import httpx
from pydantic import BaseModel

from prefect_soar._http import (
    HTTPConfig,
    HTTPCore,
    RetryPolicy,
    ServiceClient,
    body_excerpt,
    poll_until,
    register_secret,
)
from prefect_soar.clients import _ptsandbox_params as check
from prefect_soar.clients._ptsandbox_auth import (
    API_PREFIX,
    AUTH_TYPES,
    SERVICE,
    UI_HEADERS,
    UI_PREFIX,
    Hidden,
    RoutingAuth,
    UILoginAuth,
)
from prefect_soar.clients._ptsandbox_files import FileBody, write_atomically
from prefect_soar.clients._ptsandbox_params import StorageItem
from prefect_soar.errors import BadInputError, BadRequestError, InvalidResponseError, WaitTimeoutError
from prefect_soar.models.ptsandbox import (
    DownloadedArchive,
    DownloadedFile,
    Envelope,
    FilterValues,
    Report,
    ScanCreated,
    ScanOptions,
    ScansResponse,
    SortMode,
    Task,
    TaskCsvColumn,
    TasksPage,
    TaskStatus,
    TaskSummary,
    TreeResponse,
    UploadedFile,
    Version,
)

DEFAULT_TOKEN_LIFETIME = 480.0
CHUNK_SIZE = 256 * 1024
MAX_TASKS_LIMIT = 200
MAX_TASKS_OFFSET = 10_000
MAX_TREE_LIMIT = 1000

logger = logging.getLogger("prefect_soar.ptsandbox")

ModelT = TypeVar("ModelT", bound=BaseModel)
AuthType = Literal["default", "ldap"]


class PTSandboxClient(ServiceClient):
    """Async client for one PT Sandbox appliance (UI API and public API).

    Args:
        base_url: The appliance's root URL, e.g. ``https://sandbox.example.com`` (a bare host
            means https); the client adds ``/api/ui`` and ``/api/v1``.
        api_key: Public API token (``X-Api-Key``), needed by ``scan_file``, ``scan_url``,
            ``check_task``, ``get_report`` and ``wait_for_report``.
        login: UI user name, needed (with ``password``) by the task, tree and download methods.
        password: UI password.
        auth_type: ``"default"`` (local account) or ``"ldap"``.
        verify: ``True`` to verify TLS with the system CAs, a CA bundle path, or ``False`` (lab only).
        timeout: Seconds for connect, read and write waits.
        proxy: Proxy URL for every request.
        token_lifetime: Seconds after which the UI token is refreshed (the appliance issues 8-minute tokens).
        retry: Retry policy (default: 5 attempts with jittered backoff).
        transport: An ``httpx`` transport to use instead of the network (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        login: str | None = None,
        password: str | None = None,
        auth_type: AuthType = "default",
        verify: bool | str = True,
        timeout: float = 30.0,
        proxy: str | None = None,
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        root = check.root_url(base_url)
        if auth_type not in AUTH_TYPES:
            raise BadInputError(f"auth_type must be 'default' or 'ldap', got {auth_type!r}", service=SERVICE)
        if not isinstance(token_lifetime, int | float) or token_lifetime <= 0:
            raise BadInputError("token_lifetime must be a positive number of seconds", service=SERVICE)
        if bool(login) != bool(password):
            raise BadInputError("login and password go together: set both (UI API) or neither", service=SERVICE)
        register_secret(api_key)
        register_secret(password)
        self._api_key = Hidden(api_key) if api_key else None
        self._ui_auth = (
            UILoginAuth(str(login), Hidden(str(password)), AUTH_TYPES[auth_type], float(token_lifetime))
            if login and password else None
        )
        config = HTTPConfig(
            base_url=root, timeout=timeout, verify=verify, proxy=proxy,
            retry=retry or RetryPolicy(), transport=transport,
        )
        auth = RoutingAuth(httpx.URL(root).path.rstrip("/"), self._ui_auth, self._api_key)
        self._http = HTTPCore(SERVICE, config, auth=auth)
        if self._ui_auth is not None:
            self._ui_auth.http = self._http

    @property
    def has_ui_credentials(self) -> bool:
        """Whether a login and password were given (the UI API is usable)."""
        return self._ui_auth is not None

    @property
    def has_api_key(self) -> bool:
        """Whether an API key was given (the public API is usable)."""
        return self._api_key is not None

    # -- UI API: tasks ---------------------------------------------------------------

    async def get_tasks(
        self,
        query: str = "",
        limit: int = 20,
        offset: int = 0,
        utc_offset_seconds: int = 0,
        next_cursor: str | None = None,
    ) -> TasksPage:
        """List tasks, one page (``GET /api/ui/v2/tasks``).

        Args:
            query: Query-language filter, e.g. ``age < 30d AND (task.correlated.state != UNKNOWN) ORDER BY start desc``.
            limit: Tasks per page (0-200).
            offset: Tasks to skip; relative to the cursor when ``next_cursor`` is given.
            utc_offset_seconds: The user's offset from UTC, used for time literals in the query.
            next_cursor: The previous page's ``next_cursor``.

        Returns:
            The page; ``next_cursor`` is ``""`` on the last one.
        """
        self._require_ui("get_tasks")
        params: dict[str, Any] = {
            "query": check.text("query", query),
            "limit": check.bounded("limit", limit, 0, MAX_TASKS_LIMIT),
            "offset": check.bounded("offset", offset, 0, MAX_TASKS_OFFSET),
            "utcOffsetSeconds": check.utc_offset(utc_offset_seconds),
        }
        if next_cursor is not None:
            params["nextCursor"] = check.text("next_cursor", next_cursor)
        return await self._ui_get(TasksPage, "/v2/tasks", params)

    def iter_tasks(self, query: str = "", page_size: int = 100, max_items: int | None = None) -> AsyncIterator[Task]:
        """Iterate over every task matching ``query``, following ``nextCursor`` until it is empty.

        Args:
            query: Query-language filter.
            page_size: Tasks per request (1-200).
            max_items: Stop after this many tasks (``None``: all).

        Returns:
            An async iterator of tasks.

        Raises:
            InvalidResponseError: The appliance returned a cursor it had already returned (a loop).
        """
        self._require_ui("iter_tasks")
        check.text("query", query)
        check.bounded("page_size", page_size, 1, MAX_TASKS_LIMIT)
        if max_items is not None:
            check.bounded("max_items", max_items, 0, 10**9)
        return self._iter_tasks(query, page_size, max_items)

    async def _iter_tasks(self, query: str, page_size: int, max_items: int | None) -> AsyncIterator[Task]:
        seen_cursors: set[str] = set()
        cursor: str | None = None
        yielded = 0
        while max_items is None or yielded < max_items:
            page = await self.get_tasks(query, limit=page_size, offset=0, next_cursor=cursor)
            for task in page.tasks:
                if max_items is not None and yielded >= max_items:
                    return
                yield task
                yielded += 1
            if not page.next_cursor or not page.tasks:
                return
            if page.next_cursor in seen_cursors:
                raise InvalidResponseError(
                    f"the task listing returned cursor {page.next_cursor[:40]!r} twice; stopping to avoid a loop",
                    service=SERVICE, method="GET", url=f"{UI_PREFIX}/v2/tasks",
                )
            seen_cursors.add(page.next_cursor)
            cursor = page.next_cursor

    def get_tasks_csv(
        self, query: str = "", columns: Sequence[str] | None = None, utc_offset_seconds: int = 0
    ) -> AsyncIterator[bytes]:
        """Export the task listing as CSV, streamed (``GET /api/ui/v2/tasks/export``).

        Args:
            query: Query-language filter.
            columns: Columns to export (see :class:`~prefect_soar.models.ptsandbox.TaskCsvColumn`);
                ``None`` lets the appliance choose.
            utc_offset_seconds: The user's offset from UTC for times in the query and the CSV.

        Returns:
            An async iterator of CSV bytes.
        """
        self._require_ui("get_tasks_csv")
        known = {c.value for c in TaskCsvColumn}
        chosen = list(columns or [])
        unknown = [c for c in chosen if c not in known]
        if unknown:
            raise BadInputError(f"unknown CSV columns {unknown}; known: {sorted(known)}", service=SERVICE)
        params = {
            "format": "CSV",
            "query": check.text("query", query),
            "columns": ",".join(chosen),
            "utcOffsetSeconds": check.utc_offset(utc_offset_seconds),
        }
        return self._stream_bytes(f"{UI_PREFIX}/v2/tasks/export", params)

    async def download_tasks_csv(
        self, dest_path: str | os.PathLike[str], *, query: str = "", columns: Sequence[str] | None = None,
        utc_offset_seconds: int = 0,
    ) -> DownloadedFile:
        """Export the task listing as CSV straight to a file (atomic, mode 0600).

        Args:
            dest_path: The file to write (its folder is created).
            query: Query-language filter.
            columns: Columns to export.
            utc_offset_seconds: The user's offset from UTC.

        Returns:
            Path, size and SHA-256 of the written file.
        """
        target = Path(dest_path).expanduser()
        chunks = self.get_tasks_csv(query, columns, utc_offset_seconds)
        return DownloadedFile(**await write_atomically(chunks, target.parent, check.file_name(target.name)))

    async def get_tasks_filter_values(
        self, from_: str = "", to: str = "", scan_id: UUID | str | None = None
    ) -> FilterValues:
        """Values seen in a period, for building filters (``GET /api/ui/v2/tasks/filter-values``).

        Args:
            from_: Start of the period (sent as ``from`` when not empty).
            to: End of the period (sent when not empty).
            scan_id: Restrict to one task.

        Returns:
            Entry points, threat classifications, properties and categories.
        """
        self._require_ui("get_tasks_filter_values")
        params: dict[str, str] = {}
        if scan_id is not None:
            params["scanId"] = check.scan_id(scan_id)
        if check.text("from_", from_):
            params["from"] = from_
        if check.text("to", to):
            params["to"] = to
        return await self._ui_get(FilterValues, "/v2/tasks/filter-values", params)

    async def get_task_summary(self, scan_id: UUID | str) -> TaskSummary:
        """One task with its quarantine events (``GET /api/ui/v2/tasks/{scan_id}/summary``).

        Args:
            scan_id: The task's UUID.

        Returns:
            The summary; the task is ``.task``.
        """
        self._require_ui("get_task_summary")
        return await self._ui_get(TaskSummary, f"/v2/tasks/{check.scan_id(scan_id)}/summary")

    async def get_task_tree(
        self,
        scan_id: UUID | str,
        *,
        parent_path: Sequence[int] | None = None,
        filtered_by_ids: Sequence[int] | None = None,
        limit: int = 1000,
        offset: int = 0,
        max_tree_level: int = 3,
        sort_mode: str = "DANGEROUS",
    ) -> TreeResponse:
        """A page of a task's artifact tree (``GET /api/ui/v2/tasks/{scan_id}/tree``).

        Args:
            scan_id: The task's UUID.
            parent_path: Full path of the node to start below, e.g. ``[0, 2, 10]``.
            filtered_by_ids: Only these node ids, e.g. ``[0, 2, 10, 11]``.
            limit: Nodes per page (1-1000).
            offset: Nodes to skip.
            max_tree_level: Depth to return, relative to the parent.
            sort_mode: ``DANGEROUS`` (dangerous first) or ``ALPHABETICAL``.

        Returns:
            The nodes and ``has_more``.
        """
        self._require_ui("get_task_tree")
        if sort_mode not in {m.value for m in SortMode}:
            raise BadInputError(f"sort_mode must be DANGEROUS or ALPHABETICAL, got {sort_mode!r}", service=SERVICE)
        params: dict[str, Any] = {
            "limit": check.bounded("limit", limit, 1, MAX_TREE_LIMIT),
            "offset": check.bounded("offset", offset, 0, 10**9),
            "maxTreeLevel": check.bounded("max_tree_level", max_tree_level, 0, 1000),
            "sortMode": str(sort_mode),
        }
        if parent_path is not None:
            params["parentPath"] = check.id_list("parent_path", parent_path)
        if filtered_by_ids is not None:
            params["filteredByIds"] = check.id_list("filtered_by_ids", filtered_by_ids)
        return await self._ui_get(TreeResponse, f"/v2/tasks/{check.scan_id(scan_id)}/tree", params)

    def get_task_artifacts(
        self,
        scan_id: UUID | str,
        *,
        query: str = "",
        include_sandbox_logs: bool | str = True,
        skip_data_files: bool | str = False,
    ) -> AsyncIterator[bytes]:
        """Stream all artifacts of a task as an encrypted ZIP (password ``infected``).

        ``GET /api/ui/v2/tasks/{scan_id}/tree/download``. Prefer :meth:`download_task_artifacts`,
        which writes the archive to disk safely.

        Args:
            scan_id: The task's UUID.
            query: Query-language filter on the artifacts.
            include_sandbox_logs: Include behavioural-analysis logs.
            skip_data_files: Leave data files out.

        Returns:
            An async iterator of ZIP bytes.
        """
        self._require_ui("get_task_artifacts")
        path, params = self._artifacts_request(scan_id, query, include_sandbox_logs, skip_data_files)
        return self._stream_bytes(path, params)

    async def download_task_artifacts(
        self,
        scan_id: UUID | str,
        dest_dir: str | os.PathLike[str],
        *,
        query: str = "",
        include_sandbox_logs: bool | str = True,
        skip_data_files: bool | str = False,
        file_name: str | None = None,
    ) -> DownloadedArchive:
        """Download a task's artifact ZIP to disk in constant memory.

        The archive is streamed into a temporary file in ``dest_dir`` while its SHA-256 is
        computed, synced, then renamed into place (mode 0600); on any failure the temporary file
        is removed and nothing is left behind.

        Args:
            scan_id: The task's UUID.
            dest_dir: Folder to write into (created if missing).
            query: Query-language filter on the artifacts.
            include_sandbox_logs: Include behavioural-analysis logs.
            skip_data_files: Leave data files out.
            file_name: Name of the file (default ``<scan_id>.zip``).

        Returns:
            Path, size and SHA-256 of the archive (encrypted, password ``infected``).
        """
        self._require_ui("download_task_artifacts")
        path, params = self._artifacts_request(scan_id, query, include_sandbox_logs, skip_data_files)
        name = check.file_name(file_name or f"{check.scan_id(scan_id)}.zip")
        written = await write_atomically(self._stream_bytes(path, params), Path(dest_dir), name, expect_zip=True)
        logger.info("ptsandbox: saved artifacts of task %s (%d bytes)", check.scan_id(scan_id), written["size"])
        return DownloadedArchive(**written)

    async def get_task_artifact_scans(self, scan_id: UUID | str, node_id: int) -> ScansResponse:
        """Every engine's scan of one tree node (``GET /api/ui/v2/tasks/{scan_id}/artifacts/{node_id}/scans``).

        Args:
            scan_id: The task's UUID.
            node_id: The node's ``node_id``.

        Returns:
            The scans (plus YARA details when present).
        """
        self._require_ui("get_task_artifact_scans")
        node = check.bounded("node_id", node_id, 0, 10**9)
        return await self._ui_get(ScansResponse, f"/v2/tasks/{check.scan_id(scan_id)}/artifacts/{node}/scans")

    def get_files(self, items: Sequence[StorageItem]) -> AsyncIterator[bytes]:
        """Stream stored files by SHA-256 as an encrypted ZIP (``GET /api/ui/storage/download``).

        Hashes the appliance does not have are silently left out; it answers 404 only when it
        has none of them.

        Args:
            items: SHA-256 strings, or ``{"sha256": ..., "name": ...}`` mappings (the name
                inside the ZIP defaults to the hash).

        Returns:
            An async iterator of ZIP bytes (password ``infected``).
        """
        self._require_ui("get_files")
        return self._stream_bytes(f"{UI_PREFIX}/storage/download", {"items": check.storage_items(items)})

    async def download_files(
        self, items: Sequence[StorageItem], dest_dir: str | os.PathLike[str], *, file_name: str = "files.zip"
    ) -> DownloadedArchive:
        """Download stored files by SHA-256 into one encrypted ZIP on disk (atomic, mode 0600).

        Args:
            items: SHA-256 strings or ``{"sha256", "name"}`` mappings.
            dest_dir: Folder to write into (created if missing).
            file_name: Name of the ZIP file.

        Returns:
            Path, size and SHA-256 of the archive.
        """
        chunks = self.get_files(items)
        written = await write_atomically(chunks, Path(dest_dir), check.file_name(file_name), expect_zip=True)
        return DownloadedArchive(**written)

    # -- public API: detonation ------------------------------------------------------

    async def upload_file(self, path: str | os.PathLike[str]) -> UploadedFile:
        """Upload a file to temporary storage (``POST /api/v1/storage/uploadScanFile``, raw body).

        Args:
            path: The file to upload; it is streamed with a ``Content-Length`` (no chunked encoding).

        Returns:
            The temporary ``file_uri`` and its ``ttl``.
        """
        self._require_api("upload_file")
        source = check.existing_file(path)
        size = source.stat().st_size
        response = await self._http.request(
            "POST", f"{API_PREFIX}/storage/uploadScanFile",
            content=cast(bytes, FileBody(source)),  # a re-iterable async stream; Content-Length disables chunking
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        return self._unwrap(UploadedFile, response)

    async def scan_file(
        self,
        path: str | os.PathLike[str],
        *,
        file_name: str | None = None,
        priority: int = 3,
        short_result: bool = False,
        options: ScanOptions | Mapping[str, Any] | None = None,
    ) -> ScanCreated:
        """Upload a file and start its scan (``uploadScanFile`` then ``createScanTask``, ``async_result=true``).

        Args:
            path: The sample.
            file_name: Name the appliance shows (default: the file's name).
            priority: 1 (lowest) to 4.
            short_result: Ask for the short result when the scan ends.
            options: Scan options (defaults: the reference SDK's).

        Returns:
            The new task's ``scan_id``; follow it with :meth:`wait_for_report`.
        """
        self._require_api("scan_file")
        source = check.existing_file(path)
        body = {
            "file_uri": "",
            "file_name": check.text("file_name", file_name) if file_name else source.name,
            "short_result": bool(short_result),
            "async_result": True,
            "priority": check.bounded("priority", priority, 1, 4),
            "options": check.scan_options(options),
        }
        uploaded = await self.upload_file(source)
        body["file_uri"] = uploaded.file_uri
        created = await self._create_scan(f"{API_PREFIX}/analysis/createScanTask", body)
        logger.info("ptsandbox: scan %s created for %s", created.scan_id, body["file_name"])
        return created

    async def scan_url(
        self,
        url: str,
        *,
        priority: int = 3,
        short_result: bool = False,
        options: ScanOptions | Mapping[str, Any] | None = None,
    ) -> ScanCreated:
        """Start the scan of a URL (``POST /api/v1/analysis/createScanURLTask``, ``async_result=true``).

        Args:
            url: An absolute http(s) or ftp URL.
            priority: 1 (lowest) to 4.
            short_result: Ask for the short result when the scan ends.
            options: Scan options (defaults: the reference SDK's).

        Returns:
            The new task's ``scan_id``.
        """
        self._require_api("scan_url")
        try:
            target = httpx.URL(url.strip()) if isinstance(url, str) else None
        except httpx.InvalidURL:
            target = None
        if target is None or target.scheme not in ("http", "https", "ftp") or not target.host:
            raise BadInputError(f"url must be an absolute http(s) or ftp URL, got {url!r}", service=SERVICE)
        body = {
            "url": url.strip(),
            "short_result": bool(short_result),
            "async_result": True,
            "priority": check.bounded("priority", priority, 1, 4),
            "options": check.scan_options(options),
        }
        return await self._create_scan(f"{API_PREFIX}/analysis/createScanURLTask", body)

    async def check_task(self, scan_id: UUID | str) -> TaskStatus:
        """Status of a scan (``POST /api/v1/analysis/checkTask``, ``allow_preflight=true``).

        Args:
            scan_id: The task's UUID.

        Returns:
            ``is_preflight`` while queued, then the current result.
        """
        self._require_api("check_task")
        body = {"scan_id": check.scan_id(scan_id), "allow_preflight": True}
        response = await self._http.request("POST", f"{API_PREFIX}/analysis/checkTask", json=body, idempotent=True)
        return self._unwrap(TaskStatus, response)

    async def get_report(self, scan_id: UUID | str) -> Report:
        """The scan report (``POST /api/v1/analysis/report``): short until the scan is done, then long.

        Args:
            scan_id: The task's UUID (only tasks created with the same API key are visible).

        Returns:
            The report; ``report.is_long`` tells whether it is final.
        """
        self._require_api("get_report")
        body = {"scan_id": check.scan_id(scan_id)}
        response = await self._http.request("POST", f"{API_PREFIX}/analysis/report", json=body, idempotent=True)
        return self._unwrap(Report, response)

    async def wait_for_report(self, scan_id: UUID | str, timeout: float = 600, poll: float = 5) -> Report:
        """Poll a scan until its long report is available.

        Each round calls ``checkTask``; while the task is in preflight it waits, otherwise it
        asks for the report and stops once the report is long.

        Args:
            scan_id: The task's UUID.
            timeout: Seconds to wait in total.
            poll: First interval between rounds in seconds (it grows up to 30 s).

        Returns:
            The long report.

        Raises:
            WaitTimeoutError: The report was not ready in time (the message names the last state seen).
        """
        self._require_api("wait_for_report")
        task_id = check.scan_id(scan_id)
        if not isinstance(timeout, int | float) or timeout <= 0 or not isinstance(poll, int | float) or poll <= 0:
            raise BadInputError("timeout and poll must be positive numbers of seconds", service=SERVICE)
        last_state: list[str] = []

        async def poll_once() -> tuple[bool, Report | None]:
            status = await self.check_task(task_id)
            if status.is_preflight:
                last_state[:] = ["preflight"]
                return False, None
            if status.result is not None:
                last_state[:] = [str(status.result.scan_state)]
            report = await self.get_report(task_id)
            return report.is_long, report

        try:
            report = await poll_until(
                poll_once, timeout=timeout, poll=poll, what=f"the report of scan {task_id}", service=SERVICE
            )
        except WaitTimeoutError as exc:
            if last_state:
                raise WaitTimeoutError(
                    f"the report of scan {task_id} was not ready after {timeout:g}s (last state: {last_state[0]})",
                    service=SERVICE,
                ) from exc
            raise
        return cast(Report, report)

    async def get_version(self) -> Version:
        """The appliance's version (``GET /api/v1/maintenance/getVersion``)."""
        self._require_api("get_version")
        return self._unwrap(Version, await self._http.request("GET", f"{API_PREFIX}/maintenance/getVersion"))

    async def check_connection(self) -> dict[str, str]:
        """Check every configured credential with one cheap call each.

        The API key with ``getVersion``; login/password with a full UI login and token.

        Returns:
            ``{"public_api": <version>, "ui": "ok"}`` for the surfaces checked.

        Raises:
            BadInputError: Neither an API key nor a login/password is configured.
        """
        if self._api_key is None and self._ui_auth is None:
            raise BadInputError("no credentials: set api_key and/or login and password", service=SERVICE)
        checked: dict[str, str] = {}
        if self._api_key is not None:
            checked["public_api"] = (await self.get_version()).version
        if self._ui_auth is not None:
            self._ui_auth.invalidate()
            await self._ui_auth.token()
            checked["ui"] = "ok"
        return checked

    # -- plumbing ---------------------------------------------------------------------

    def _require_ui(self, operation: str) -> None:
        if self._ui_auth is None:
            raise BadInputError(
                f"Can't use the UI API without login/password ({operation} needs them): set login and password",
                service=SERVICE,
            )

    def _require_api(self, operation: str) -> None:
        if self._api_key is None:
            raise BadInputError(
                f"Can't use the public API without an api_key ({operation} needs one): set api_key",
                service=SERVICE,
            )

    async def _ui_get(self, model: type[ModelT], path: str, params: Mapping[str, Any] | None = None) -> ModelT:
        response = await self._http.request("GET", f"{UI_PREFIX}{path}", params=params, headers=UI_HEADERS)
        return self._http.parse(model, self._http.decode_json(response), response)

    def _unwrap(self, model: type[ModelT], response: httpx.Response) -> ModelT:
        """Validate a public-API ``{"data", "errors"}`` envelope and return its ``data`` as ``model``."""
        payload = self._http.decode_json(response)
        if not isinstance(payload, dict) or "data" not in payload:
            raise InvalidResponseError(
                "expected a {data, errors} envelope", body_excerpt=body_excerpt(response.content),
                service=SERVICE, method=response.request.method, url=str(response.request.url),
                status=response.status_code,
            )
        envelope = self._http.parse(Envelope, payload, response)
        problems = "; ".join(f"{e.type}: {e.message}" for e in envelope.errors)
        if envelope.errors and not envelope.data:
            raise BadRequestError(
                "the API reported errors instead of data", service=SERVICE, method=response.request.method,
                url=str(response.request.url), status=response.status_code, api_message=problems,
            )
        if envelope.errors:
            logger.warning(
                "ptsandbox: %s %s reported: %s", response.request.method, response.request.url.path, problems
            )
        return self._http.parse(model, envelope.data, response)

    async def _create_scan(self, path: str, body: dict[str, Any]) -> ScanCreated:
        # Not idempotent: retried only when the connection never opened, so no duplicate task.
        response = await self._http.request("POST", path, json=body)
        return self._unwrap(ScanCreated, response)

    def _artifacts_request(
        self, scan_id: UUID | str, query: str, include_sandbox_logs: bool | str, skip_data_files: bool | str
    ) -> tuple[str, dict[str, str]]:
        params = {
            "query": check.text("query", query),
            "includeSandboxLogs": check.flag("include_sandbox_logs", include_sandbox_logs),
            "skipDataFiles": check.flag("skip_data_files", skip_data_files),
        }
        return f"{UI_PREFIX}/v2/tasks/{check.scan_id(scan_id)}/tree/download", params

    async def _stream_bytes(self, path: str, params: Mapping[str, Any]) -> AsyncIterator[bytes]:
        async with self._http.stream("GET", path, params=params, headers=UI_HEADERS) as response:
            async for chunk in response.aiter_bytes(CHUNK_SIZE):
                yield chunk


__all__ = ["AUTH_TYPES", "PTSandboxClient"]
