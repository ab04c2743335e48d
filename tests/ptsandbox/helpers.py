"""Shared bits of the PT Sandbox unit tests: constants, the mocked login dance, request checks."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import httpx
import respx

from prefect_soar._http import RetryPolicy

BASE = "https://sandbox.test"
LOGIN = "soc-analyst"
PASSWORD = "pw-Sup3r-Secret"
API_KEY = "ak-0123456789abcdef"
SCAN_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.002)


@dataclass
class LoginRoutes:
    """The five mocked steps of the UI login dance."""

    authorize: respx.Route
    login: respx.Route | None
    location: respx.Route | None
    callback: respx.Route | None
    token: respx.Route
    location_url: str

    def fingerprint(self) -> str:
        return self.authorize.calls[0].request.url.params["fingerprint"]


STEPS = ("authorize", "login", "location", "token")


def mock_login(
    router: respx.MockRouter, base: str = BASE, token_prefix: str = "tok", until: str = "token"
) -> LoginRoutes:
    """Mock authorize → IdP login (cookie) → location → redirect (refresh cookie) → token (tok-1, tok-2, ...).

    ``until`` stops registering routes after that step (the strict router fails on unused routes).
    """
    wanted = STEPS[: STEPS.index(until) + 1]
    host = httpx.URL(base).host
    idp = f"https://{host}:3334"
    location = f"{idp}/connect/authorize?client_id=sandbox&response_type=code&state=abc"
    callback = f"{base}/signin-oidc?code=c1"
    counter = itertools.count(1)
    authorize = router.get(f"{base}/api/ui/auth/authorize").mock(
        return_value=httpx.Response(200, json={"data": {"location": location}})
    )
    login = location_route = callback_route = None
    if "login" in wanted:
        login = router.post(f"{idp}/ui/login").mock(
            return_value=httpx.Response(
                200, json={}, headers={"set-cookie": "idsrv.session=s1; Path=/; Secure; HttpOnly"}
            )
        )
    if "location" in wanted:
        location_route = router.get(location).mock(return_value=httpx.Response(302, headers={"location": callback}))
        callback_route = router.get(callback).mock(
            return_value=httpx.Response(
                200, text="<html>ok</html>",
                headers={"set-cookie": "refresh_token=rt1; Path=/api/ui; Secure; HttpOnly"},
            )
        )
    if "token" in wanted:
        token = router.post(f"{base}/api/ui/auth/token").mock(
            side_effect=lambda request: httpx.Response(
                200, json={"data": {"accessToken": f"{token_prefix}-{next(counter)}"}}
            )
        )
    else:  # a detached route: never called, so tests can assert exactly that
        token = respx.Route(method="POST", url=f"{base}/api/ui/auth/token")
    return LoginRoutes(authorize, login, location_route, callback_route, token, location)


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)


def assert_ui_request(request: httpx.Request, method: str, url: str, token: str = "tok-1") -> None:
    """A UI API request: exact method and URL (query included), bearer, JSON content type, no API key."""
    assert request.method == method
    assert str(request.url) == url
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("prefect-soar/")
    assert "X-Api-Key" not in request.headers


def assert_api_request(request: httpx.Request, method: str, url: str, body: Any = None) -> None:
    """A public API request: exact method and URL, X-Api-Key, no bearer, exact JSON body when given."""
    assert request.method == method
    assert str(request.url) == url
    assert request.headers["X-Api-Key"] == API_KEY
    assert "Authorization" not in request.headers
    if body is not None:
        assert request.headers["Content-Type"] == "application/json"
        assert json_body(request) == body


def zip_bytes(payload: bytes = b"MZ fake sample") -> bytes:
    """A small AES-encrypted ZIP (password ``infected``)."""
    import io

    import pyzipper

    buffer = io.BytesIO()
    with pyzipper.AESZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(b"infected")
        archive.writestr("sample.exe", payload)
    return buffer.getvalue()
