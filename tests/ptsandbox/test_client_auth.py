"""The UI login dance, token refresh (on time and once on a 401), credential routing and secrecy."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from prefect_soar.clients.ptsandbox import PTSandboxClient
from prefect_soar.errors import AuthenticationError, BadInputError, InvalidResponseError

from .helpers import API_KEY, BASE, FAST, LOGIN, PASSWORD, assert_ui_request, json_body, mock_login

TASKS = f"{BASE}/api/ui/v2/tasks"
TASKS_URL = f"{TASKS}?query=&limit=20&offset=0&utcOffsetSeconds=0"
EMPTY_PAGE = {"tasks": [], "currentCursor": "", "nextCursor": ""}


def ui_client(base: str = BASE, **kwargs: object) -> PTSandboxClient:
    return PTSandboxClient(base, login=LOGIN, password=PASSWORD, retry=FAST, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "auth_type", "auth_code"),
    [(BASE, "default", 0), ("https://10.10.10.10", "ldap", 1)],
    ids=["hostname-local-account", "bare-ip-ldap"],
)
async def test_login_dance_sends_exactly_the_reference_requests(respx_mock, base, auth_type, auth_code):
    routes = mock_login(respx_mock, base)
    tasks = respx_mock.get(f"{base}/api/ui/v2/tasks").mock(return_value=httpx.Response(200, json=EMPTY_PAGE))

    async with ui_client(base, auth_type=auth_type) as client:
        await client.get_tasks()

    # 1. authorize with a 32-hex fingerprint, no credentials attached
    authorize = routes.authorize.calls.last.request
    fingerprint = routes.fingerprint()
    assert re.fullmatch(r"[0-9a-f]{32}", fingerprint)
    assert str(authorize.url) == f"{base}/api/ui/auth/authorize?fingerprint={fingerprint}"
    assert "Authorization" not in authorize.headers and "X-Api-Key" not in authorize.headers
    assert authorize.headers["Content-Type"] == "application/json"
    # 2. IdP login at {location scheme+host+port}/ui/login
    login = routes.login.calls.last.request
    assert login.method == "POST"
    assert str(login.url) == f"https://{httpx.URL(base).host}:3334/ui/login"
    assert json_body(login) == {"username": LOGIN, "password": PASSWORD, "authType": auth_code, "rememberLogin": True}
    assert login.headers["Content-Type"] == "application/json"
    # 3. the location, then its redirect, carrying the IdP cookie (kept for a bare IP too)
    assert routes.location.calls.last.request.method == "GET"
    assert "idsrv.session=s1" in routes.location.calls.last.request.headers["Cookie"]
    assert routes.callback.called
    # 4. the token, with the same fingerprint and the refresh cookie
    token = routes.token.calls.last.request
    assert str(token.url) == f"{base}/api/ui/auth/token"
    assert json_body(token) == {"fingerprint": fingerprint}
    assert "refresh_token=rt1" in token.headers["Cookie"]
    assert "Authorization" not in token.headers
    # 5. the call itself, with the bearer
    assert_ui_request(
        tasks.calls.last.request, "GET", f"{base}/api/ui/v2/tasks?query=&limit=20&offset=0&utcOffsetSeconds=0"
    )
    assert routes.authorize.call_count == routes.token.call_count == 1


async def test_token_is_reused_then_refreshed_on_time_without_a_new_login(respx_mock):
    routes = mock_login(respx_mock)
    tasks = respx_mock.get(TASKS).mock(return_value=httpx.Response(200, json=EMPTY_PAGE))
    async with ui_client(token_lifetime=0.4) as client:
        await client.get_tasks()
        await client.get_tasks()
        assert routes.token.call_count == 1  # still fresh: reused
        await asyncio.sleep(0.45)
        await client.get_tasks()
    assert routes.token.call_count == 2
    assert routes.authorize.call_count == 1  # refreshed with the cookie, not a new login
    assert json_body(routes.token.calls[1].request) == {"fingerprint": routes.fingerprint()}
    assert [c.request.headers["Authorization"] for c in tasks.calls] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


async def test_a_401_refreshes_once_and_repeats_the_call(respx_mock):
    routes = mock_login(respx_mock)
    tasks = respx_mock.get(TASKS).mock(
        side_effect=[httpx.Response(401, json={"message": "token expired"}), httpx.Response(200, json=EMPTY_PAGE)]
    )
    async with ui_client() as client:
        page = await client.get_tasks()
    assert page.next_cursor == ""
    assert tasks.call_count == 2
    assert tasks.calls[0].request.headers["Authorization"] == "Bearer tok-1"
    assert_ui_request(tasks.calls[1].request, "GET", TASKS_URL, token="tok-2")
    assert routes.authorize.call_count == 1


async def test_a_second_401_is_an_authentication_error_not_a_loop(respx_mock):
    routes = mock_login(respx_mock)
    tasks = respx_mock.get(TASKS).mock(return_value=httpx.Response(401, json={"message": "no access to tasks"}))
    async with ui_client() as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_tasks()
    assert tasks.call_count == 2
    assert routes.token.call_count == 2
    assert info.value.status == 401 and "no access to tasks" in str(info.value)


async def test_a_refused_refresh_logs_in_again(respx_mock):
    routes = mock_login(respx_mock)
    routes.token.side_effect = [
        httpx.Response(200, json={"data": {"accessToken": "tok-first"}}),
        httpx.Response(401, json={"message": "refresh token expired"}),
        httpx.Response(200, json={"data": {"accessToken": "tok-after-relogin"}}),
    ]
    tasks = respx_mock.get(TASKS).mock(
        side_effect=[httpx.Response(401), httpx.Response(200, json=EMPTY_PAGE)]
    )
    async with ui_client() as client:
        await client.get_tasks()
    assert routes.authorize.call_count == 2
    assert routes.login.call_count == 2
    assert tasks.calls[1].request.headers["Authorization"] == "Bearer tok-after-relogin"


async def test_legacy_top_level_access_token_is_accepted(respx_mock):
    routes = mock_login(respx_mock)
    routes.token.side_effect = None
    routes.token.return_value = httpx.Response(200, json={"accessToken": "legacy-tok"})
    tasks = respx_mock.get(TASKS).mock(return_value=httpx.Response(200, json=EMPTY_PAGE))
    async with ui_client() as client:
        await client.get_tasks()
    assert tasks.calls.last.request.headers["Authorization"] == "Bearer legacy-tok"


async def test_idp_rejecting_the_password_is_an_authentication_error_without_the_password(respx_mock):
    routes = mock_login(respx_mock, until="login")
    routes.login.return_value = httpx.Response(401, json={"message": "Invalid username or password"})
    async with ui_client() as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get_task_summary("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert "Invalid username or password" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
    assert not routes.token.called and len(respx_mock.calls) == 2


async def test_idp_answering_a_redirect_instead_of_200_is_an_authentication_error(respx_mock):
    routes = mock_login(respx_mock, until="login")
    routes.login.return_value = httpx.Response(302, headers={"location": "/ui/login?error=1"})
    async with ui_client() as client:
        with pytest.raises(AuthenticationError, match="expected 200"):
            await client.get_tasks()
    assert not routes.token.called


async def test_idp_400_is_reported_as_an_authentication_error(respx_mock):
    routes = mock_login(respx_mock, until="login")
    routes.login.return_value = httpx.Response(400, json={"message": "unknown auth type"})
    async with ui_client() as client:
        with pytest.raises(AuthenticationError, match="unknown auth type"):
            await client.get_tasks()


async def test_authorize_without_location_is_an_invalid_response(respx_mock):
    respx_mock.get(f"{BASE}/api/ui/auth/authorize").mock(return_value=httpx.Response(200, json={"data": {}}))
    async with ui_client() as client:
        with pytest.raises(InvalidResponseError, match="Can't get location"):
            await client.get_tasks()


async def test_token_response_without_access_token_is_an_invalid_response(respx_mock):
    routes = mock_login(respx_mock)
    routes.token.side_effect = None
    routes.token.return_value = httpx.Response(200, json={"data": {}, "errors": []})
    async with ui_client() as client:
        with pytest.raises(InvalidResponseError, match="accessToken"):
            await client.get_tasks()


async def test_the_token_never_appears_in_errors(respx_mock):
    mock_login(respx_mock, token_prefix="eyJhbGciOiJSUzI1NiJ9.e30.signature")
    respx_mock.get(TASKS).mock(
        return_value=httpx.Response(
            500, text="upstream echoed eyJhbGciOiJSUzI1NiJ9.e30.signature-1 back"
        )
    )
    async with ui_client() as client:
        with pytest.raises(Exception) as info:
            await client.get_tasks()
    assert "eyJhbGciOiJSUzI1NiJ9.e30.signature-1" not in str(info.value)


async def test_ui_calls_need_login_and_password_and_send_nothing_without(respx_mock):
    async with PTSandboxClient(BASE, api_key=API_KEY) as client:
        with pytest.raises(BadInputError, match="Can't use the UI API without login/password"):
            await client.get_tasks()
        with pytest.raises(BadInputError, match="without login/password"):
            client.get_task_artifacts("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert not respx_mock.calls


async def test_public_calls_need_an_api_key_and_send_nothing_without(respx_mock):
    async with ui_client() as client:
        with pytest.raises(BadInputError, match="Can't use the public API without an api_key"):
            await client.check_task("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    assert not respx_mock.calls


def test_login_without_password_is_refused_at_construction():
    with pytest.raises(BadInputError, match="login and password go together"):
        PTSandboxClient(BASE, login=LOGIN)
    with pytest.raises(BadInputError, match="auth_type"):
        PTSandboxClient(BASE, login=LOGIN, password=PASSWORD, auth_type="kerberos")  # type: ignore[arg-type]


async def test_repr_and_attributes_show_no_secrets():
    async with PTSandboxClient(BASE, api_key=API_KEY, login=LOGIN, password=PASSWORD) as client:
        shown = repr(client) + repr(vars(client)) + repr(vars(client._ui_auth))  # type: ignore[arg-type]
    assert repr(client) == f"PTSandboxClient(base_url='{BASE}')"
    assert API_KEY not in shown and PASSWORD not in shown


async def test_check_connection_checks_every_configured_credential(respx_mock):
    routes = mock_login(respx_mock)
    version = respx_mock.get(f"{BASE}/api/v1/maintenance/getVersion").mock(
        return_value=httpx.Response(200, json={"data": {"version": "5.11.0.12345", "edition": ""}, "errors": []})
    )
    async with PTSandboxClient(BASE, api_key=API_KEY, login=LOGIN, password=PASSWORD, retry=FAST) as client:
        assert await client.check_connection() == {"public_api": "5.11.0.12345", "ui": "ok"}
    assert version.calls.last.request.headers["X-Api-Key"] == API_KEY
    assert routes.token.called


async def test_check_connection_without_credentials_is_bad_input():
    async with PTSandboxClient(BASE) as client:
        with pytest.raises(BadInputError, match="no credentials"):
            await client.check_connection()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sandbox.test", "https://sandbox.test"),
        ("https://sandbox.test/", "https://sandbox.test"),
        ("https://sandbox.test/api/ui", "https://sandbox.test"),
        ("http://127.0.0.1:8701/api/v1/", "http://127.0.0.1:8701"),
        ("https://gw.test/sandbox", "https://gw.test/sandbox"),
    ],
)
def test_base_url_is_normalised_to_the_appliance_root(given, expected):
    assert repr(PTSandboxClient(given)) == f"PTSandboxClient(base_url='{expected}')"


@pytest.mark.parametrize("bad", ["", "ftp://sandbox.test", "https://", "https://admin:pw-Sup3r-Secret@sandbox.test"])
def test_bad_base_url_is_refused(bad):
    with pytest.raises(BadInputError, match="base_url") as info:
        PTSandboxClient(bad)
    assert PASSWORD not in str(info.value)


async def test_path_prefix_routes_credentials_correctly(respx_mock):
    routes = mock_login(respx_mock, "https://gw.test/sandbox")
    tasks = respx_mock.get("https://gw.test/sandbox/api/ui/v2/tasks").mock(
        return_value=httpx.Response(200, json=EMPTY_PAGE)
    )
    async with ui_client("https://gw.test/sandbox") as client:
        await client.get_tasks()
    assert tasks.calls.last.request.headers["Authorization"] == "Bearer tok-1"
    assert routes.token.called
