"""Input validation for the PT Sandbox client: everything is checked before a request is sent.

Each helper returns the value as the wire wants it, or raises
:class:`~prefect_soar.errors.BadInputError` naming the argument and what it accepts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from pydantic import ValidationError

from prefect_soar.clients._ptsandbox_auth import API_PREFIX, SERVICE, UI_PREFIX
from prefect_soar.errors import BadInputError
from prefect_soar.models.ptsandbox import ScanOptions

StorageItem = str | Mapping[str, str]
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_UTC_OFFSET = 14 * 3600


def root_url(base_url: str) -> str:
    """The appliance root URL: https added to a bare host, a pasted /api/ui or /api/v1 suffix removed."""
    value = base_url.strip() if isinstance(base_url, str) else ""
    if not value:
        raise BadInputError("base_url is required, e.g. https://sandbox.example.com", service=SERVICE)
    if "://" not in value:
        value = f"https://{value}"
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise BadInputError(f"base_url is not a valid URL: {exc}", service=SERVICE) from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise BadInputError(f"base_url must be an http(s) URL with a host, got {base_url!r}", service=SERVICE)
    if url.userinfo:
        raise BadInputError("base_url must not carry credentials: use api_key, login and password", service=SERVICE)
    path = url.path.rstrip("/")
    for suffix in (UI_PREFIX, API_PREFIX):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return str(url.copy_with(path=path or "/", query=None, fragment=None)).rstrip("/")


def scan_id(value: UUID | str) -> str:
    """A task id as a canonical UUID string, or BadInputError."""
    if isinstance(value, UUID):
        return str(value)
    try:
        return str(UUID(str(value).strip()))
    except (ValueError, TypeError, AttributeError):
        raise BadInputError(
            f"scan_id must be a task UUID such as 7c9e6679-7425-40de-944b-e07fc1f90ae7, got {value!r}",
            service=SERVICE,
        ) from None


def bounded(name: str, value: int, low: int, high: int) -> int:
    """An integer within [low, high], or BadInputError."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadInputError(f"{name} must be an integer from {low} to {high}, got {value!r}", service=SERVICE)
    return value


def utc_offset(value: int) -> int:
    """A UTC offset in seconds (at most 14 hours either way)."""
    return bounded("utc_offset_seconds", value, -MAX_UTC_OFFSET, MAX_UTC_OFFSET)


def text(name: str, value: str) -> str:
    """A string, or BadInputError."""
    if not isinstance(value, str):
        raise BadInputError(f"{name} must be a string, got {type(value).__name__}", service=SERVICE)
    return value


def flag(name: str, value: bool | str) -> str:
    """A boolean (or "true"/"false") as the wire's "true"/"false" string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    raise BadInputError(f"{name} must be True/False (or 'true'/'false'), got {value!r}", service=SERVICE)


def id_list(name: str, values: Sequence[int]) -> str:
    """Node ids, comma-joined as the wire wants them."""
    if isinstance(values, str | bytes) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        raise BadInputError(f"{name} must be a list of non-negative node ids, got {values!r}", service=SERVICE)
    return ",".join(str(v) for v in values)


def storage_items(items: Sequence[StorageItem]) -> str:
    """The compact JSON list ``/storage/download`` takes in its ``items`` query parameter."""
    if isinstance(items, str | bytes) or not items:
        raise BadInputError("items must be a non-empty list of SHA-256 hashes or {sha256, name} items", service=SERVICE)
    out: list[dict[str, str]] = []
    for item in items:
        sha = item if isinstance(item, str) else item.get("sha256") if isinstance(item, Mapping) else None
        name = None if isinstance(item, str) else item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise BadInputError(f"not a SHA-256 (64 hex characters): {sha!r}", service=SERVICE)
        if name is not None and (not isinstance(name, str) or not name):
            raise BadInputError(f"item name must be a non-empty string, got {name!r}", service=SERVICE)
        out.append({"sha256": sha.lower(), "name": name or sha.lower()})
    return json.dumps(out, separators=(",", ":"))


def scan_options(options: ScanOptions | Mapping[str, Any] | None) -> dict[str, Any]:
    """Scan options validated and dumped without ``None`` fields (the API rejects nulls)."""
    if options is None:
        options = ScanOptions()
    elif not isinstance(options, ScanOptions):
        try:
            options = ScanOptions.model_validate(options)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise BadInputError(f"invalid scan options: {where}: {first.get('msg')}", service=SERVICE) from None
    return options.model_dump(mode="json", exclude_none=True)


def existing_file(path: str | os.PathLike[str]) -> Path:
    """A path that names a regular file, or BadInputError."""
    source = Path(path).expanduser()
    if not source.is_file():
        raise BadInputError(f"{str(source)!r} is not a readable file", service=SERVICE)
    return source


def file_name(name: str) -> str:
    """A plain file name (no folders, no ``..``), or BadInputError."""
    if (
        not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
        or "\x00" in name
    ):
        raise BadInputError(f"file_name must be a plain file name without folders, got {name!r}", service=SERVICE)
    return name
