"""State of the PT Sandbox emulator: UI login sessions, the task listing, public-API scans, files.

The FastAPI routes in :mod:`prefect_soar.simulators.ptsandbox` only parse and serialize; every
rule lives here, in plain synchronous methods that raise :class:`LabAPIError` (rendered in the
vendor's error envelope by the app).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect_soar.simulators.ptsandbox_data import (
    DEFAULT_TASK_ORDER,
    PUBLIC_API_ENTRY_POINT,
    TASK_FIELDS,
    URL_KIND,
    PTSandboxLabSettings,
    TaskRow,
    filter_values,
    generate_rows,
    public_list_item,
)
from prefect_soar.simulators.ptsandbox_ql import CompiledQuery, QLError, compile_query, parse_datetime
from prefect_soar.simulators.ptsandbox_tree import (
    LOG_TYPES,
    NODE_FIELDS,
    SANDBOX_IMAGE,
    HashedBlob,
    TreeNode,
    build_tree,
    guess_kind,
    tree_page,
)
from prefect_soar.simulators.ptsandbox_zip import ArchiveCache, Member, padding_member

ERROR_TYPES = {
    400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden", 404: "HTTPNotFound",
    405: "HTTPMethodNotAllowed", 409: "HTTPConflict", 411: "HTTPLengthRequired", 413: "HTTPRequestEntityTooLarge",
    415: "HTTPUnsupportedMediaType", 422: "HTTPUnprocessableEntity", 429: "HTTPTooManyRequests",
    500: "HTTPInternalServerError", 502: "HTTPBadGateway", 503: "HTTPServiceUnavailable", 504: "HTTPGatewayTimeout",
}
# Built in two halves so this source file itself never carries the full test signature.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_LISTING_CACHE = 16
_TREE_CACHE = 512
_STATE_TTL = 600.0
_REFRESH_TTL = 12 * 3600.0


class LabAPIError(Exception):
    """An error answer of the emulator: HTTP status, message and the vendor's error ``type``."""

    def __init__(self, status: int, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or ERROR_TYPES.get(status, "HTTPError")


def parse_uuid(value: str, what: str = "scan id") -> str:
    """A canonical UUID string, or a 400."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise LabAPIError(400, f"{what} {value!r} is not a UUID") from None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Listing:
    rows: list[TaskRow]
    keys: list[tuple[Any, ...]]
    values: list[list[Any]]
    query: CompiledQuery


@dataclass
class _Upload:
    data: bytes
    owner: str
    expires: float


@dataclass
class TasksPage:
    """One page of a task listing."""

    rows: list[TaskRow]
    current_cursor: str
    next_cursor: str


class PTSandboxBackend:
    """Everything the emulator knows; ``reset()`` returns to the seeded state (login sessions are kept).

    Args:
        settings: The lab settings (defaults when ``None``).
    """

    def __init__(self, settings: PTSandboxLabSettings | None = None) -> None:
        self.settings = settings or PTSandboxLabSettings()
        self.token_ttl: Callable[[], float] = lambda: self.settings.token_lifetime_seconds
        self.archives = ArchiveCache()
        self._anchor = self.settings.now.timestamp() if self.settings.now else time.time()
        self._secret = secrets.token_bytes(32)
        self._auth_lock = threading.Lock()
        self._states: dict[str, tuple[str, float]] = {}
        self._sessions: dict[str, str] = {}
        self._codes: dict[str, tuple[str, str, float]] = {}
        self._refresh: dict[str, tuple[str, str, float]] = {}
        self._seeded: list[TaskRow] | None = None
        self._seeded_by_id: dict[str, TaskRow] = {}
        self.reset()

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget public-API uploads and tasks, caches and generated archives."""
        self._public: list[TaskRow] = []
        self._public_by_id: dict[str, TaskRow] = {}
        self._pending: list[TaskRow] = []
        self._uploads: dict[str, _Upload] = {}
        self._blobs: dict[str, HashedBlob] = {}
        self._trees: OrderedDict[str, list[TreeNode]] = OrderedDict()
        self._listings: OrderedDict[tuple[Any, ...], _Listing] = OrderedDict()
        self._version = 0
        self._fully_indexed = False
        self.archives.clear()

    def clock(self) -> float:
        """The lab's "now" in epoch seconds (frozen when ``settings.now`` is set)."""
        return self._anchor if self.settings.now else time.time()

    @property
    def seeded(self) -> list[TaskRow]:
        """The seeded tasks (generated on first use)."""
        if self._seeded is None:
            self._seeded = generate_rows(self.settings, self._anchor)
            self._seeded_by_id = {row.id: row for row in self._seeded}
        return self._seeded

    def all_rows(self, owner: str | None = None) -> list[TaskRow]:
        """Every task a caller sees: all of them for the UI, a key's own for the public API."""
        self.refresh_scans()
        if owner is not None:
            return [row for row in self._public if row.owner == owner]
        return self.seeded + self._public if self._public else self.seeded

    def task(self, scan_id: str) -> TaskRow:
        """A task by id (400 if not a UUID, 404 if unknown)."""
        scan_id = parse_uuid(scan_id)
        self.refresh_scans()
        seeded = self._seeded_by_id if self.seeded else {}
        row = self._public_by_id.get(scan_id) or seeded.get(scan_id)
        if row is None:
            raise LabAPIError(404, f"Task {scan_id} not found")
        return row

    # -- UI auth: IdP login, cookies, bearer tokens ---------------------------------------------

    def start_authorization(self, fingerprint: str) -> str:
        """Step 1: remember the fingerprint under a fresh OAuth ``state``; return the state."""
        if not fingerprint or len(fingerprint) > 256:
            raise LabAPIError(400, "fingerprint is required (32 hex characters)")
        state = secrets.token_urlsafe(16)
        with self._auth_lock:
            self._states[state] = (fingerprint, time.monotonic() + _STATE_TTL)
        return state

    def idp_login(self, body: Any) -> str:
        """Step 2: check the IdP credentials; return a new IdP session id."""
        if not isinstance(body, dict):
            raise LabAPIError(400, "expected a JSON object with username, password, authType, rememberLogin")
        username, password, auth_type = body.get("username"), body.get("password"), body.get("authType", 0)
        if not isinstance(username, str) or not isinstance(password, str):
            raise LabAPIError(400, "username and password are required strings")
        if auth_type not in (0, 1) or isinstance(auth_type, bool):
            raise LabAPIError(400, "authType must be 0 (local) or 1 (LDAP)")
        valid = hmac.compare_digest(username, self.settings.login) and hmac.compare_digest(
            password.encode(), self.settings.password.encode()
        )
        if not valid:
            raise LabAPIError(401, "Invalid username or password")
        session = secrets.token_urlsafe(24)
        with self._auth_lock:
            self._sessions[session] = username
        return session

    def idp_authorize(self, session: str | None, state: str, client_id: str) -> str:
        """Step 3a: with a valid IdP session, turn the ``state`` into a one-time code."""
        with self._auth_lock:
            username = self._sessions.get(session or "")
            if username is None:
                raise LabAPIError(401, "No IdP session: POST /ui/login first")
            if client_id != "sandbox":
                raise LabAPIError(400, f"unknown client_id {client_id!r}")
            entry = self._states.pop(state, None)
            if entry is None or entry[1] < time.monotonic():
                raise LabAPIError(400, "unknown or expired authorization state; call /api/ui/auth/authorize again")
            code = secrets.token_urlsafe(24)
            self._codes[code] = (entry[0], username, time.monotonic() + _STATE_TTL)
        return code

    def redeem_code(self, code: str) -> str:
        """Step 3b: a one-time code -> a refresh token (the cookie)."""
        with self._auth_lock:
            entry = self._codes.pop(code, None)
            if entry is None or entry[2] < time.monotonic():
                raise LabAPIError(400, "unknown or expired authorization code")
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = (entry[0], entry[1], time.monotonic() + _REFRESH_TTL)
        return refresh

    def issue_access_token(self, refresh: str | None, fingerprint: Any) -> str:
        """Step 4 (and every refresh): a signed access token for a refresh cookie + its fingerprint."""
        if not isinstance(fingerprint, str) or not fingerprint:
            raise LabAPIError(400, "fingerprint is required")
        with self._auth_lock:
            entry = self._refresh.get(refresh or "")
        if entry is None or entry[2] < time.monotonic():
            raise LabAPIError(401, "No valid refresh token cookie: log in again")
        if not hmac.compare_digest(entry[0], fingerprint):
            raise LabAPIError(401, "fingerprint does not match the login session")
        now = time.time()
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        claims = {"sub": entry[1], "fp": fingerprint, "iat": now, "exp": now + self.token_ttl(),
                  "jti": secrets.token_hex(8)}
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def check_access_token(self, authorization: str | None) -> dict[str, Any]:
        """The claims of a valid ``Authorization: Bearer`` header, or a 401."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise LabAPIError(401, "Authorization: Bearer <access token> required")
        token = authorization[7:].strip()
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _b64url_decode(signature)):
                raise ValueError("bad signature")
            claims: dict[str, Any] = json.loads(_b64url_decode(payload))
        except (ValueError, binascii.Error):
            raise LabAPIError(401, "invalid access token") from None
        if claims.get("exp", 0) <= time.time():
            raise LabAPIError(401, "access token expired")
        return claims

    def check_api_key(self, key: str | None) -> str:
        """The caller's API key if the lab accepts it, or a 401."""
        if not key:
            raise LabAPIError(401, "X-Api-Key header required")
        for known in (self.settings.api_key, *self.settings.extra_api_keys):
            if hmac.compare_digest(key.encode(), known.encode()):
                return known
        raise LabAPIError(401, "invalid API key")

    # -- UI listing -------------------------------------------------------------------------------

    def _compile(self, query: str, utc_offset: int, now: float) -> CompiledQuery:
        try:
            return compile_query(query, TASK_FIELDS, now=now, utc_offset_seconds=utc_offset,
                                 default_order=DEFAULT_TASK_ORDER)
        except QLError as exc:
            raise LabAPIError(400, f"Invalid query: {exc}") from None

    def _listing(self, query: str, utc_offset: int, now: float, owner: str | None) -> _Listing:
        self.refresh_scans()
        key = (query, utc_offset, now, owner, self._version)
        cached = self._listings.get(key)
        if cached is not None:
            self._listings.move_to_end(key)
            return cached
        rows = self.all_rows(owner)
        compiled = self._compile(query, utc_offset, now)
        matching = [row for row in rows if compiled.matches(row)]
        values = [compiled.sort_values(row) for row in matching]
        keyed = sorted(zip((compiled.key_from_values(v) for v in values), range(len(matching)), strict=True))
        listing = _Listing(
            rows=[matching[i] for _, i in keyed], keys=[k for k, _ in keyed], values=[values[i] for _, i in keyed],
            query=compiled,
        )
        self._listings[key] = listing
        while len(self._listings) > _LISTING_CACHE:
            self._listings.popitem(last=False)
        return listing

    @staticmethod
    def _query_tag(query: str, utc_offset: int, owner: str | None) -> str:
        return hashlib.sha256(f"{query}\x00{utc_offset}\x00{owner}".encode()).hexdigest()[:16]

    def _encode_cursor(self, tag: str, now: float, values: list[Any] | None) -> str:
        body = json.dumps({"q": tag, "n": now, "k": values}, separators=(",", ":"))
        return base64.b64encode(body.encode()).decode()

    def _decode_cursor(self, cursor: str, tag: str) -> tuple[float, list[Any] | None]:
        try:
            body = json.loads(base64.b64decode(cursor, validate=True))
            now, values = float(body["n"]), body["k"]
            if values is not None and not isinstance(values, list):
                raise ValueError
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise LabAPIError(400, "invalid cursor: pass back nextCursor exactly as received") from None
        if body.get("q") != tag:
            raise LabAPIError(400, "the cursor belongs to another query; restart the listing without a cursor")
        return now, values

    def list_tasks(
        self, query: str = "", limit: int = 20, offset: int = 0, utc_offset: int = 0, cursor: str | None = None,
        owner: str | None = None, max_limit: int = 200,
    ) -> TasksPage:
        """A page of tasks matching ``query``; ``offset`` counts from the cursor's position.

        The cursor keeps the clock of the first page and the sort key of the last row served,
        so paging stays complete and free of duplicates while new tasks arrive.
        """
        if not 0 <= limit <= max_limit:
            raise LabAPIError(400, f"limit must be between 0 and {max_limit}")
        if not 0 <= offset <= 10000:
            raise LabAPIError(400, "offset must be between 0 and 10000")
        tag = self._query_tag(query, utc_offset, owner)
        if cursor:
            now, after = self._decode_cursor(cursor, tag)
        else:
            now, after = self.clock(), None
        listing = self._listing(query, utc_offset, now, owner)
        position = 0
        if after is not None:
            try:
                position = bisect.bisect_right(listing.keys, listing.query.key_from_values(after))
            except (TypeError, QLError):
                raise LabAPIError(400, "invalid cursor: pass back nextCursor exactly as received") from None
        start = position + offset
        page = listing.rows[start : start + limit]
        more = bool(page) and start + limit < len(listing.rows)
        next_cursor = self._encode_cursor(tag, now, listing.values[start + len(page) - 1]) if more else ""
        current = cursor or self._encode_cursor(tag, now, None)
        return TasksPage(page, current, next_cursor)

    def export_rows(self, query: str, utc_offset: int) -> list[TaskRow]:
        """Every task matching ``query``, in its order (for the CSV export)."""
        return self._listing(query, utc_offset, self.clock(), None).rows

    def filter_values(self, scan_id: str | None, time_from: str | None, time_to: str | None) -> dict[str, Any]:
        """Possible filter values over the tasks in a time range (or one task)."""
        rows = [self.task(scan_id)] if scan_id else self.all_rows()
        bounds = []
        for name, text in (("from", time_from), ("to", time_to)):
            try:
                bounds.append(parse_datetime(text) if text else None)
            except QLError:
                raise LabAPIError(400, f"{name}: expected an ISO 8601 date-time or epoch seconds") from None
        low, high = bounds
        if low is not None:
            rows = [row for row in rows if row.start >= low]
        if high is not None:
            rows = [row for row in rows if row.start <= high]
        return filter_values(rows)

    # -- trees, files, archives -----------------------------------------------------------------

    def tree(self, row: TaskRow) -> list[TreeNode]:
        """The artifact tree of a task (cached); registers its files for download."""
        nodes = self._trees.get(row.id)
        if nodes is None:
            nodes = build_tree(self.settings.seed, row)
            for node in nodes:
                if node.hashed is not None:
                    self._blobs.setdefault(node.hashed.sha256, node.hashed)
                for log in node.logs:
                    self._blobs.setdefault(log.hashed.sha256, log.hashed)
            self._trees[row.id] = nodes
            while len(self._trees) > _TREE_CACHE:
                self._trees.popitem(last=False)
        else:
            self._trees.move_to_end(row.id)
        return nodes

    def tree_page(
        self, scan_id: str, *, parent_path: list[int] | None, filtered_ids: set[int] | None, limit: int,
        offset: int, max_tree_level: int, sort_mode: str,
    ) -> tuple[list[dict[str, Any]], bool]:
        """``/tree`` of a task."""
        nodes = self.tree(self.task(scan_id))
        try:
            return tree_page(nodes, parent_path=parent_path, filtered_ids=filtered_ids, limit=limit, offset=offset,
                             max_tree_level=max_tree_level, sort_mode=sort_mode)
        except LookupError as exc:
            raise LabAPIError(404, str(exc)) from None

    def node_scans(self, scan_id: str, node_id: int) -> dict[str, Any]:
        """``/artifacts/{node}/scans`` of a task."""
        nodes = self.tree(self.task(scan_id))
        if not 0 <= node_id < len(nodes):
            raise LabAPIError(404, f"Artifact {node_id} not found in task {scan_id}")
        node = nodes[node_id]
        body: dict[str, Any] = {"scans": node.json["scans"]}
        if node.yara is not None:
            body["yaraMainInfo"] = node.yara
        return body

    def find_blob(self, sha256: str) -> HashedBlob | None:
        """A file by its SHA-256, from any tree built so far (small labs: from every task)."""
        sha256 = sha256.lower()
        blob = self._blobs.get(sha256)
        if blob is None and not self._fully_indexed and len(self.seeded) <= 5000:
            for row in self.all_rows():
                self.tree(row)
            self._fully_indexed = True
            blob = self._blobs.get(sha256)
        return blob

    def task_archive_members(
        self, scan_id: str, query: str, include_logs: bool, skip_data_files: bool,
    ) -> tuple[str, Callable[[], list[Member]]]:
        """Cache key and member list of a task's artifact archive (``/tree/download``)."""
        row = self.task(scan_id)
        nodes = self.tree(row)
        try:
            compiled = compile_query(query, NODE_FIELDS, now=self.clock(), id_getter=lambda n: str(n.node_id))
        except QLError as exc:
            raise LabAPIError(400, f"Invalid query: {exc}") from None
        members: list[Member] = []
        for node in nodes:
            if not compiled.matches(node):
                continue
            if node.node_type == "ARTIFACT" and node.hashed is not None and not skip_data_files:
                safe = re.sub(r"[\\/:*?\"<>|]+", "_", node.name)[:120] or node.sha256
                members.append(Member(f"files/{node.node_id:03d}_{safe}", node.size, node.hashed.blob.chunks))
            if include_logs:
                members.extend(
                    Member(f"sandbox_logs/{node.node_id:03d}/{log.name}", log.hashed.blob.size, log.hashed.blob.chunks)
                    for log in node.logs
                )
        padding = self.settings.archive_padding_bytes
        if padding:
            members.append(padding_member(padding, f"ptsandbox-lab:{self.settings.seed}:{row.id}:padding"))
        key = json.dumps(["task", row.id, query, include_logs, skip_data_files, padding])
        return key, lambda: members

    def files_archive_members(self, items: Any) -> tuple[str, Callable[[], list[Member]]]:
        """Cache key and members of ``/storage/download`` (missing hashes left out; 404 if none exist)."""
        if not isinstance(items, list) or not items:
            raise LabAPIError(400, 'items must be a non-empty JSON list like [{"sha256": "...", "name": "a.exe"}]')
        members: list[Member] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("sha256"), str):
                raise LabAPIError(400, "every item needs a sha256 string")
            sha256 = item["sha256"]
            if not _SHA256.match(sha256):
                raise LabAPIError(400, f"{sha256!r} is not a SHA-256 (64 hex characters)")
            name = item.get("name") or sha256
            if not isinstance(name, str):
                raise LabAPIError(400, "name must be a string")
            blob = self.find_blob(sha256)
            if blob is not None:
                members.append(Member(name, blob.blob.size, blob.blob.chunks))
        if not members:
            raise LabAPIError(404, "None of the requested files exist")
        key = json.dumps(["files", [(m.name, m.size) for m in members], sorted(i["sha256"].lower() for i in items)])
        return key, lambda: members

    def archive(self, key: str, members: Callable[[], list[Member]]) -> Path:
        """Build (or reuse) an archive; blocking, call from a worker thread."""
        return self.archives.get(key, members)

    # -- public API: uploads and scans ----------------------------------------------------------

    def upload(self, owner: str, data: bytes) -> dict[str, Any]:
        """Store an upload; return ``{file_uri, ttl}``."""
        if not data:
            raise LabAPIError(400, "empty upload body")
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d-%H")
        file_uri = f"sfm-files:///{stamp}/{uuid.uuid4()}/{uuid.uuid4()}"
        ttl = self.settings.upload_ttl_seconds
        self._uploads[file_uri] = _Upload(data, owner, time.monotonic() + ttl)
        return {"file_uri": file_uri, "ttl": ttl}

    def _new_public_row(self, owner: str, name: str, object_type: str, verdict: tuple[str, str, str, str],
                        sandbox: bool) -> TaskRow:
        number = len(self._public)
        task_id = str(uuid.UUID(bytes=hashlib.sha256(f"{self.settings.seed}:public:{number}".encode()).digest()[:16],
                                version=4))
        start = self.clock()
        if self._public:
            start = max(start, self._public[-1].start + 0.001)
        done = self.settings.scan_seconds <= 0
        row = TaskRow(
            index=len(self.seeded) + number, id=task_id, name=name, object_type=object_type, start=round(start, 3),
            duration=round(max(self.settings.scan_seconds, 0.1), 3), state="FULL" if done else "UNSCANNED",
            threat_level="UNKNOWN", threat_classification="UNKNOWN", threat_platform="NO_PLATFORM", threat_name="",
            sandbox=sandbox, sandbox_state="UNSCANNED", entry_point=PUBLIC_API_ENTRY_POINT,
            file_kind=URL_KIND if object_type == "URL" else guess_kind(name),
        )
        row.owner = owner
        row.final = verdict
        row.created_monotonic = time.monotonic()
        if done:
            self._finish(row)
        else:
            self._pending.append(row)
        self._public.append(row)
        self._public_by_id[row.id] = row
        self._version += 1
        return row

    @staticmethod
    def _finish(row: TaskRow) -> None:
        assert row.final is not None
        row.state = "FULL"
        row.threat_level, row.threat_classification, row.threat_platform, row.threat_name = row.final
        row.sandbox_state = "FULL" if row.sandbox else "UNKNOWN"

    def refresh_scans(self) -> None:
        """Move public-API scans along: ``UNSCANNED`` -> ``PARTIAL`` -> ``FULL`` as ``scan_seconds`` pass."""
        if not self._pending:
            return
        total = self.settings.scan_seconds
        now = time.monotonic()
        still: list[TaskRow] = []
        for row in self._pending:
            elapsed = now - row.created_monotonic
            state = "FULL" if elapsed >= total else ("PARTIAL" if elapsed >= total / 3 else "UNSCANNED")
            if state != row.state:
                self._version += 1
                if state == "FULL":
                    self._finish(row)
                else:
                    row.state = row.sandbox_state = state
            if row.state != "FULL":
                still.append(row)
        self._pending = still

    def seconds_until_done(self, row: TaskRow) -> float:
        """How long until a public scan is ``FULL``."""
        return max(0.0, row.created_monotonic + self.settings.scan_seconds - time.monotonic())

    @staticmethod
    def judge_content(data: bytes) -> tuple[str, str, str, str]:
        """The lab's verdict for file bytes: EICAR or ``MALWARE`` -> DANGEROUS, ``UNWANTED`` -> UNWANTED, else CLEAN."""
        if EICAR in data:
            return ("DANGEROUS", "VIRUS", "NO_PLATFORM", "EICAR-Test-File")
        if b"MALWARE" in data:
            return ("DANGEROUS", "TROJAN_DOWNLOADER", "WINDOWS", "Trojan-Downloader.Win32.Lab.gen")
        if b"UNWANTED" in data:
            return ("UNWANTED", "RISKTOOL", "WINDOWS", "not-a-virus:RiskTool.Win32.Lab")
        return ("CLEAN", "UNKNOWN", "NO_PLATFORM", "")

    @staticmethod
    def judge_url(url: str) -> tuple[str, str, str, str]:
        """The lab's verdict for a URL: ``evil`` or ``malware`` in it -> DANGEROUS."""
        lowered = url.lower()
        if "evil" in lowered or "malware" in lowered:
            return ("DANGEROUS", "PHISHING", "NO_PLATFORM", "Phishing.URL.Lab")
        return ("CLEAN", "UNKNOWN", "NO_PLATFORM", "")

    @staticmethod
    def _scan_options(body: dict[str, Any]) -> bool:
        priority = body.get("priority")
        if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)
                                     or not 1 <= priority <= 4):
            raise LabAPIError(400, "priority must be an integer from 1 to 4")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise LabAPIError(400, "options must be an object")
        sandbox = options.get("sandbox") or {}
        if not isinstance(sandbox, dict):
            raise LabAPIError(400, "options.sandbox must be an object")
        duration = sandbox.get("analysis_duration")
        if duration is not None and (not isinstance(duration, int | float) or duration < 10):
            raise LabAPIError(400, "options.sandbox.analysis_duration must be at least 10")
        return bool(sandbox.get("enabled", True))

    def create_file_scan(self, owner: str, body: Any) -> TaskRow:
        """``createScanTask``: scan an uploaded file."""
        if not isinstance(body, dict):
            raise LabAPIError(400, "expected a JSON object")
        file_uri = body.get("file_uri")
        if not isinstance(file_uri, str) or not file_uri:
            raise LabAPIError(400, "file_uri is required")
        sandbox = self._scan_options(body)
        upload = self._uploads.get(file_uri)
        if upload is None or upload.owner != owner or upload.expires < time.monotonic():
            raise LabAPIError(404, f'File "{file_uri}" not found', "HTTPNotFound")
        name = body.get("file_name") or file_uri.rsplit("/", 1)[-1]
        if not isinstance(name, str):
            raise LabAPIError(400, "file_name must be a string")
        row = self._new_public_row(owner, name, "FILE", self.judge_content(upload.data), sandbox)
        row.content = upload.data
        return row

    def create_url_scan(self, owner: str, body: Any) -> TaskRow:
        """``createScanURLTask``: scan a URL."""
        if not isinstance(body, dict):
            raise LabAPIError(400, "expected a JSON object")
        url = body.get("url")
        if not isinstance(url, str) or not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", url):
            raise LabAPIError(400, "url is required and must be an absolute URL")
        sandbox = self._scan_options(body)
        row = self._new_public_row(owner, url, "URL", self.judge_url(url), sandbox)
        row.url = url
        return row

    def public_task(self, owner: str, scan_id: Any) -> TaskRow:
        """A task the key created (404 for others': a token sees only its own)."""
        if not isinstance(scan_id, str):
            raise LabAPIError(400, "scan_id is required")
        scan_id = parse_uuid(scan_id)
        self.refresh_scans()
        row = self._public_by_id.get(scan_id)
        if row is None or row.owner != owner:
            raise LabAPIError(404, f"Task {scan_id} not found")
        return row

    def _result(self, row: TaskRow) -> dict[str, Any]:
        result: dict[str, Any] = {
            "scan_state": row.state,
            "duration": row.duration if row.state == "FULL" else round(time.monotonic() - row.created_monotonic, 3),
            "duration_full": round(row.duration + 1.8, 3) if row.state == "FULL" else 0.0,
        }
        if row.state == "FULL":
            result["verdict"] = row.threat_level
            if row.threat_name:
                result["threat"] = row.threat_name
        result["errors"] = []
        return result

    def check_task(self, owner: str, body: Any) -> dict[str, Any]:
        """``checkTask``: a preflight answer first (when allowed and not done), then the result."""
        if not isinstance(body, dict):
            raise LabAPIError(400, "expected a JSON object")
        row = self.public_task(owner, body.get("scan_id"))
        if row.state != "FULL" and body.get("allow_preflight") and not row.preflight_sent:
            row.preflight_sent = True
            return {"scan_id": row.id, "is_preflight": True}
        return {"scan_id": row.id, "is_preflight": False, "result": self._result(row)}

    def report(self, owner: str, scan_id: Any, *, short_result: bool = False) -> dict[str, Any]:
        """``report``: short ``{scan_id}`` until the scan is done, then the long report."""
        row = self.public_task(owner, scan_id)
        if row.state != "FULL":
            return {"scan_id": row.id}
        if short_result:
            return {"scan_id": row.id, "result": self._result(row)}
        return {"scan_id": row.id, "result": self._result(row), "artifacts": [self._report_artifact(row)]}

    def _file_info(self, node: TreeNode, path: str = "") -> dict[str, Any]:
        info = node.json["info"]
        return {
            "file_uri": f"sha256:{node.sha256}", "file_path": path, "mime_type": info["mimeType"], "md5": node.md5,
            "sha1": node.sha1, "sha256": node.sha256, "ssdeep": info["ssdeep"], "size": node.size,
        }

    def _report_artifact(self, row: TaskRow) -> dict[str, Any]:
        nodes = self.tree(row)
        root = nodes[0]
        result = self._result(row)
        engines: list[dict[str, Any]] = []
        for scan in root.json["scans"]:
            engine, scan_result = scan["engine"], scan["result"]
            engine_result: dict[str, Any] = {
                "scan_state": scan_result["state"], "duration": 0.3, "duration_full": 0.4,
                "verdict": scan_result["threatLevel"], "errors": [],
            }
            if engine["detections"]:
                engine_result["threat"] = engine["detections"][0]["name"]
            entry: dict[str, Any] = {
                "engine_subsystem": "AV", "engine_code_name": engine["name"], "engine_version": engine["version"],
                "database_version": "27210", "result": engine_result,
                "detections": [
                    {"detect": d["name"], "threat": d["threatClassification"]} for d in engine["detections"]
                ],
            }
            if "databaseTime" in engine:
                entry["database_time"] = engine["databaseTime"]
            engines.append(entry)
        children: list[dict[str, Any]] = []
        sandbox_nodes = [nodes[i] for i in root.children if nodes[i].node_type == "SANDBOX"]
        for sandbox in sandbox_nodes:
            info = sandbox.json["sandboxInfo"]
            for child in (nodes[i] for i in sandbox.children):
                children.append({
                    "type": "PROCESS_DUMP" if child.info_type == "SANDBOX_PROCESS_MEMORY_DUMP" else "FILE",
                    "result": {**result, "verdict": child.verdict},
                    "file_info": self._file_info(child, f"C:\\Users\\user\\AppData\\Local\\Temp\\{child.name}"),
                    "engine_results": [], "artifacts": [], "network_objects": [],
                })
            image = SANDBOX_IMAGE
            engines.append({
                "engine_subsystem": "SANDBOX", "engine_code_name": "sandbox", "result": result,
                "detections": [{"detect": d["name"], "threat": d["threatClassification"]} for d in info["detections"]],
                "details": {"sandbox": {
                    "image": {"image_id": image["name"], "version": image["version"], "os": {
                        "name": image["os"]["name"], "version": image["os"]["version"],
                        "architecture": image["os"]["architecture"], "service_pack": "", "locale": "en-US"}},
                    "logs": [
                        {"type": LOG_TYPES[log.type], "file_uri": f"sha256:{log.hashed.sha256}", "file_name": log.name}
                        for log in root.logs if log.type in LOG_TYPES
                    ],
                    "artifacts": [],
                    "stages": [],
                    "analysis_duration": info["analysisDuration"],
                    "bootkitmon": False,
                    "network_objects": [
                        {"type": o["type"], "value": o["value"]} for o in root.json.get("networkObjects", [])
                    ],
                    "suspicious_behaviors": [
                        {"name": b["name"], "mitre_threat_id": b["mitreThreatId"], "weight": b["weight"]}
                        for b in info["suspiciousBehaviors"]
                    ],
                }},
            })
        return {
            "type": "URL" if row.object_type == "URL" else "FILE",
            "result": result,
            "file_info": self._file_info(root),
            "engine_results": engines,
            "artifacts": children,
            "network_objects": [],
        }

    def download_artifact(self, owner: str, body: Any) -> Iterator[bytes]:
        """``downloadArtifact``: raw bytes of a file of the key's own tasks (404 otherwise)."""
        file_uri = body.get("file_uri") if isinstance(body, dict) else None
        if not isinstance(file_uri, str) or not file_uri.startswith("sha256:") or not _SHA256.match(file_uri[7:]):
            raise LabAPIError(400, 'file_uri must look like "sha256:<64 hex characters>"')
        sha256 = file_uri[7:].lower()
        for row in self.all_rows(owner):
            self.tree(row)
        blob = self._blobs.get(sha256)
        if blob is None or blob.blob.owner != owner:
            raise LabAPIError(404, f'File "{file_uri}" not found', "HTTPNotFound")
        return blob.blob.chunks()

    def public_list(self, owner: str, body: Any) -> dict[str, Any]:
        """``listTasks``: the key's own tasks, top-level ``{tasks, next_cursor}``."""
        if not isinstance(body, dict):
            body = {}
        limit, offset, utc_offset = body.get("limit", 20), body.get("offset", 0), body.get("utc_offset_seconds", 0)
        query, cursor = body.get("query", "") or "", body.get("next_cursor") or None
        for name, value in (("limit", limit), ("offset", offset), ("utc_offset_seconds", utc_offset)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise LabAPIError(400, f"{name} must be an integer")
        if not isinstance(query, str) or (cursor is not None and not isinstance(cursor, str)):
            raise LabAPIError(400, "query and next_cursor must be strings")
        page = self.list_tasks(query, limit, offset, utc_offset, cursor, owner=owner)
        return {"tasks": [public_list_item(row) for row in page.rows], "next_cursor": page.next_cursor}

