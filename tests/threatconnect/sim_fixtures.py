"""Helpers for the ThreatConnect emulator tests: an independent HMAC signer and in-process clients.

The signer here is written from the reference (``../shared/reference/threatconnect.md``), not
imported from the emulator, so a test signing with it checks the emulator against the spec.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
from fastapi import FastAPI

from prefect_soar.simulators.threatconnect import LAB_CREDENTIALS, ThreatConnectLabSettings, create_app

VECTOR_SECRET = "secret-key"
VECTOR_TIMESTAMP = 1513703787
BASE_URL = "http://tc.lab/api"


def tc_signature(secret_key: str, path_with_query: str, method: str, timestamp: int | str) -> str:
    """``base64(HMAC-SHA256(secret, "{path_with_query}:{METHOD}:{timestamp}"))``, per the reference."""
    message = f"{path_with_query}:{method}:{timestamp}".encode()
    return base64.b64encode(hmac.new(secret_key.encode(), message, hashlib.sha256).digest()).decode()


def hmac_headers(path_with_query: str, method: str, *, access_id: str = LAB_CREDENTIALS["access_id"],
                 secret_key: str = LAB_CREDENTIALS["secret_key"], timestamp: int | None = None) -> dict[str, str]:
    """The ``Timestamp`` and ``Authorization: TC ...`` headers for one request."""
    ts = int(time.time()) if timestamp is None else timestamp
    sig = tc_signature(secret_key, path_with_query, method, ts)
    return {"Timestamp": str(ts), "Authorization": f"TC {access_id}:{sig}"}


class TCHmac(httpx.Auth):
    """Sign each request as it goes on the wire (``url.raw_path`` holds path and query)."""

    def __init__(self, access_id: str = LAB_CREDENTIALS["access_id"], secret_key: str = LAB_CREDENTIALS["secret_key"],
                 clock: Callable[[], float] = time.time) -> None:
        self.access_id, self.secret_key, self.clock = access_id, secret_key, clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(hmac_headers(request.url.raw_path.decode("ascii"), request.method,
                                            access_id=self.access_id, secret_key=self.secret_key,
                                            timestamp=int(self.clock())))
        yield request


class TCToken(httpx.Auth):
    """``Authorization: TC-Token <token>``."""

    def __init__(self, token: str = LAB_CREDENTIALS["api_token"]) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"TC-Token {self.token}"
        yield request


def make_app(**settings: Any) -> FastAPI:
    """An emulator with settings overrides."""
    return create_app(ThreatConnectLabSettings(**settings))


def asgi_client(app: FastAPI, auth: httpx.Auth | str | None = "token") -> httpx.AsyncClient:
    """An in-process client on the app, base URL ending in ``/api``; token auth by default, ``None``: none."""
    chosen = TCToken() if auth == "token" else auth
    assert chosen is None or isinstance(chosen, httpx.Auth)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL, auth=chosen)


def task_ids(response: httpx.Response) -> list[int]:
    """Ids of the tasks of a v2 list response."""
    return [t["id"] for t in response.json()["data"]["task"]]
