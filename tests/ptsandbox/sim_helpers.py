"""Helpers of the PT Sandbox emulator tests: apps, the login dance over plain httpx, shape checks."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyzipper

from prefect_soar.simulators.ptsandbox import LAB_CREDENTIALS, create_app

SIM_NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)
FINGERPRINT = "0123456789abcdef0123456789abcdef"
API_HEADERS = {"X-Api-Key": LAB_CREDENTIALS["api_key"]}
EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "examples" / "ptsandbox"


def example(name: str) -> Any:
    """A reference example body, or skip when the shared folder is absent."""
    path = EXAMPLES / name
    if not path.exists():
        pytest.skip(f"reference example {path} not available")
    return json.loads(path.read_text())


async def ui_login(
    client: httpx.AsyncClient, *, login: str | None = None, password: str | None = None,
    fingerprint: str = FINGERPRINT, auth_type: int = 0,
) -> str:
    """Run the whole UI login dance as the reference SDK does; return the access token."""
    authorize = await client.get("/api/ui/auth/authorize", params={"fingerprint": fingerprint})
    assert authorize.status_code == 200, authorize.text
    location = httpx.URL(authorize.json()["data"]["location"])
    idp = location.copy_with(path="/ui/login", query=None)
    answer = await client.post(idp, json={
        "username": login or LAB_CREDENTIALS["login"], "password": password or LAB_CREDENTIALS["password"],
        "authType": auth_type, "rememberLogin": True,
    })
    assert answer.status_code == 200, answer.text
    hop = await client.get(location, follow_redirects=True)
    assert hop.status_code == 200, hop.text
    token = await client.post("/api/ui/auth/token", json={"fingerprint": fingerprint})
    assert token.status_code == 200, token.text
    return str(token.json()["data"]["accessToken"])


def asgi_client(app: Any) -> httpx.AsyncClient:
    """An in-process client of the emulator (no sockets)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8701")


async def ui_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client logged in to the UI API (Bearer header set)."""
    async with asgi_client(app) as client:
        token = await ui_login(client)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


async def all_task_ids(client: httpx.AsyncClient, query: str = "", limit: int = 200, **params: Any) -> list[str]:
    """Follow ``nextCursor`` to the end; return every task id in order."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(10_000):
        request = {"query": query, "limit": limit, "offset": 0, "utcOffsetSeconds": 0, **params}
        if cursor:
            request["nextCursor"] = cursor
        page = await client.get("/api/ui/v2/tasks", params=request)
        assert page.status_code == 200, page.text
        body = page.json()
        ids.extend(task["id"] for task in body["tasks"])
        cursor = body["nextCursor"]
        if cursor == "":
            return ids
    raise AssertionError("listing never ended")


def open_zip(content: bytes, password: bytes = b"infected") -> pyzipper.AESZipFile:
    """Open an emulator archive with its password."""
    archive = pyzipper.AESZipFile(io.BytesIO(content))
    archive.setpassword(password)
    return archive


def shape_mismatch(example_value: Any, actual: Any, path: str = "$") -> str | None:
    """Where ``actual`` lacks a key that ``example_value`` has (recursively), or ``None``.

    Lists: every example item must match some actual item (heterogeneous lists such as tree
    nodes); an empty actual list only has to be a list.
    """
    if isinstance(example_value, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {type(actual).__name__}"
        for key, value in example_value.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            problem = shape_mismatch(value, actual[key], f"{path}.{key}")
            if problem:
                return problem
        return None
    if isinstance(example_value, list):
        if not isinstance(actual, list):
            return f"{path}: expected a list, got {type(actual).__name__}"
        if not actual:
            return None
        for position, item in enumerate(example_value):
            problems = [shape_mismatch(item, candidate, f"{path}[{position}]") for candidate in actual]
            if all(problems):
                return problems[0]
        return None
    return None


def make_app(**settings: Any) -> Any:
    """An emulator with a frozen clock and quick scans unless told otherwise."""
    settings.setdefault("now", SIM_NOW)
    settings.setdefault("scan_seconds", 0)
    return create_app(settings)
