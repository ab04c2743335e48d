"""Shared constants and the respx request recorder of the ThreatConnect client tests."""

from __future__ import annotations

import json as jsonlib
from collections import deque
from typing import Any

import httpx
import respx

from prefect_soar._http import RetryPolicy

HOST = "tc.example"
BASE_URL = f"https://{HOST}/api"
ACCESS_ID = "12345"
SECRET = "secret-key"
VECTOR_TS = 1513703787
FAST = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_max=0.002)


class Recorder:
    """Answers requests to the fake host from a queue and remembers them."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.requests: list[httpx.Request] = []
        self._responses: deque[httpx.Response] = deque()
        self._fixed: dict[tuple[str, str], httpx.Response] = {}
        router.route(host=HOST).mock(side_effect=self._handle)

    def on(self, method: str, raw_path: str, status: int = 200, json: Any = None) -> Recorder:
        """Always answer ``method raw_path`` (path + query as sent) with this JSON."""
        self._fixed[(method, raw_path)] = httpx.Response(status, json={"status": "Success"} if json is None else json)
        return self

    def reply(self, status: int = 200, json: Any = None, *, content: bytes | None = None,
              headers: dict[str, str] | None = None) -> Recorder:
        """Queue one response (JSON, or raw content)."""
        if content is not None:
            self._responses.append(httpx.Response(status, content=content, headers=headers))
        else:
            self._responses.append(httpx.Response(status, json={"status": "Success"} if json is None else json,
                                                  headers=headers))
        return self

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fixed = self._fixed.get((request.method, request.url.raw_path.decode()))
        if fixed is not None:
            return httpx.Response(fixed.status_code, content=fixed.content, headers=fixed.headers)
        if not self._responses:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        return self._responses.popleft()

    def one(self) -> httpx.Request:
        """The only request sent."""
        assert len(self.requests) == 1, [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]
        return self.requests[0]

    def lines(self) -> list[str]:
        """``METHOD raw_path`` of every request, in order."""
        return [f"{r.method} {r.url.raw_path.decode()}" for r in self.requests]


def body_of(request: httpx.Request) -> Any:
    """The decoded JSON body of a request."""
    return jsonlib.loads(request.content)


def page(tasks: list[dict[str, Any]], count: int | None = None) -> dict[str, Any]:
    """A v2 task-list envelope (``resultCount`` when given)."""
    data: dict[str, Any] = {"task": tasks}
    if count is not None:
        data["resultCount"] = count
    return {"status": "Success", "data": data}


def task_json(task_id: int, name: str = "T", **extra: Any) -> dict[str, Any]:
    """A list-shaped v2 task."""
    return {"id": task_id, "name": name, "ownerName": "Example Org", "dateAdded": "2024-01-01T00:00:00Z",
            "status": "Not Started", **extra}
