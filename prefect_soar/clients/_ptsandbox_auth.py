"""PT Sandbox authentication: the UI login dance and per-surface credential routing.

The UI API wants a bearer token obtained as the appliance's own web UI does:

1. ``GET /api/ui/auth/authorize?fingerprint=<32 hex>`` → ``{"data": {"location": <IdP URL>}}``;
2. ``POST {location scheme+host+port}/ui/login`` with ``{"username", "password", "authType": 0|1,
   "rememberLogin": true}``, which must answer 200 and sets the IdP's cookies;
3. ``GET {location}``, following redirects, which leaves the refresh cookie in the jar;
4. ``POST /api/ui/auth/token`` with ``{"fingerprint"}`` → ``{"data": {"accessToken": ...}}``.

A refresh repeats step 4 (the cookie is the refresh credential); when the appliance refuses
it, the whole dance runs again. :class:`UILoginAuth` does this as a :class:`TokenAuth`, so the
token is refreshed before ``token_lifetime`` runs out and once more after a 401. The login
requests go out with ``auth=None``, so they never recurse into the auth flow.

:class:`RoutingAuth` puts the bearer only on ``/api/ui`` requests and ``X-Api-Key`` only on
public API (``/api/v1``, ``/api/debug``) requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from prefect_soar._http import HTTPCore, TokenAuth, body_excerpt, register_secret
from prefect_soar._redact import SecretRedactingFilter
from prefect_soar.errors import AuthenticationError, BadInputError, BadRequestError, InvalidResponseError

SERVICE = "ptsandbox"
UI_PREFIX = "/api/ui"
API_PREFIX = "/api/v1"
DEBUG_PREFIX = "/api/debug"
AUTH_TYPES: dict[str, int] = {"default": 0, "ldap": 1}
UI_HEADERS = {"Content-Type": "application/json"}
MAX_LOGIN_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TOLERATED_HOP_STATUSES = frozenset(range(400, 500)) - {429}

logger = logging.getLogger("prefect_soar.ptsandbox")
logger.addFilter(SecretRedactingFilter())


class Hidden:
    """Holds a secret without ever showing it in a repr."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Hidden('**********')"


class UILoginAuth(TokenAuth):
    """Bearer token of the UI API, obtained by the IdP login dance and refreshed with the session cookie.

    Args:
        login: UI user name.
        password: UI password.
        auth_type: 0 (local account) or 1 (LDAP).
        lifetime: Seconds a token is used before it is refreshed.

    The owning client binds :attr:`http` (its one :class:`HTTPCore`) right after building it.
    """

    def __init__(self, login: str, password: Hidden, auth_type: int, lifetime: float) -> None:
        super().__init__()
        self.http: HTTPCore | None = None
        self._login = login
        self._password = password
        self._auth_type = auth_type
        self._lifetime = lifetime
        self.refresh_margin = min(30.0, lifetime / 4)
        self.fingerprint = secrets.token_hex(16)
        self.session_started = False

    async def fetch_token(self) -> tuple[str, float]:
        """Refresh with the session cookie, or run the whole login when there is none or it is refused."""
        if self.session_started:
            try:
                return await self._issue_token()
            except AuthenticationError:
                logger.info("ptsandbox: the UI token refresh was refused; logging in again")
        await self._login_dance()
        return await self._issue_token()

    def _core(self) -> HTTPCore:
        if self.http is None:  # pragma: no cover - the client always binds it
            raise RuntimeError("UILoginAuth is not bound to an HTTPCore")
        return self.http

    async def _login_dance(self) -> None:
        http = self._core()
        self.session_started = False
        authorize = await http.request(
            "GET", f"{UI_PREFIX}/auth/authorize", params={"fingerprint": self.fingerprint},
            headers=UI_HEADERS, auth=None,
        )
        payload = http.decode_json(authorize)
        data = payload.get("data") if isinstance(payload, dict) else None
        location = data.get("location") if isinstance(data, dict) else None
        if not isinstance(location, str) or not location:
            raise InvalidResponseError(
                "Can't get location from the authorization response",
                body_excerpt=body_excerpt(authorize.content), service=SERVICE, method="GET",
                url=str(authorize.request.url), status=authorize.status_code,
            )
        location_url = authorize.request.url.join(location)
        idp_login = httpx.URL(
            scheme=location_url.scheme, host=location_url.host, port=location_url.port, path="/ui/login"
        )
        body = {
            "username": self._login,
            "password": self._password.value,
            "authType": self._auth_type,
            "rememberLogin": True,
        }
        try:
            answer = await http.request(
                "POST", str(idp_login), json=body, headers=UI_HEADERS, auth=None, idempotent=True
            )
        except BadRequestError as exc:
            raise AuthenticationError(
                "the IdP refused the login", service=SERVICE, method="POST", url=str(idp_login),
                status=exc.status, api_message=exc.api_message,
                hint="Check login, password and auth_type (default or ldap) in the block",
            ) from exc
        if answer.status_code != 200:
            raise AuthenticationError(
                f"the IdP login answered HTTP {answer.status_code}, expected 200", service=SERVICE,
                method="POST", url=str(idp_login), status=answer.status_code,
            )
        url = location_url
        for _ in range(MAX_LOGIN_REDIRECTS + 1):
            # The reference ignores this step's status; 4xx pages are tolerated, 5xx and 429 (the service
            # is overloaded, the hop did not happen) are retried then raised.
            hop = await http.request("GET", str(url), headers=UI_HEADERS, auth=None, ok=_TOLERATED_HOP_STATUSES)
            target = hop.headers.get("location")
            if hop.status_code not in _REDIRECTS or not target:
                break
            url = hop.request.url.join(target)
        else:
            raise InvalidResponseError(
                f"more than {MAX_LOGIN_REDIRECTS} redirects after the IdP login", service=SERVICE,
                method="GET", url=str(location_url),
            )
        self.session_started = True
        logger.debug("ptsandbox: UI login done")

    async def _issue_token(self) -> tuple[str, float]:
        http = self._core()
        response = await http.request(
            "POST", f"{UI_PREFIX}/auth/token", json={"fingerprint": self.fingerprint},
            headers=UI_HEADERS, auth=None, idempotent=True,
        )
        payload = http.decode_json(response)
        token: Any = None
        if isinstance(payload, dict):
            data = payload.get("data")
            token = data.get("accessToken") if isinstance(data, dict) else None
            token = token or payload.get("accessToken")  # legacy appliances answer un-wrapped
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(
                "Can't get accessToken from the token response", service=SERVICE, method="POST",
                url=str(response.request.url), status=response.status_code,
            )
        register_secret(token)
        return token, token_lifetime(token, self._lifetime)


class RoutingAuth(httpx.Auth):
    """Puts the right credential on each request: bearer on ``/api/ui``, ``X-Api-Key`` on the public API.

    Args:
        root_path: Path of the appliance root (``""`` unless it sits behind a path prefix).
        ui: The UI token auth, or ``None`` without login/password.
        api_key: The public API key, or ``None``.
    """

    requires_response_body = False

    def __init__(self, root_path: str, ui: UILoginAuth | None, api_key: Hidden | None) -> None:
        self._ui_prefix = f"{root_path}{UI_PREFIX}/"
        self._api_prefixes = (f"{root_path}{API_PREFIX}/", f"{root_path}{DEBUG_PREFIX}/")
        self._ui = ui
        self._api_key = api_key

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        path = request.url.path
        if path.startswith(self._api_prefixes):
            if self._api_key is None:
                raise BadInputError("Can't use the public API without an api_key", service=SERVICE)
            request.headers["X-Api-Key"] = self._api_key.value
            yield request
            return
        if path.startswith(self._ui_prefix):
            if self._ui is None:
                raise BadInputError("Can't use the UI API without login/password", service=SERVICE)
            flow = self._ui.async_auth_flow(request)
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return
        yield request


def token_lifetime(token: str, configured: float) -> float:
    """The configured lifetime, shortened to the JWT's own ``exp`` when that says less (and is sane).

    Args:
        token: The access token (a JWT, or anything else).
        configured: The client's ``token_lifetime`` in seconds.

    Returns:
        Seconds to use the token before refreshing it.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return configured
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return configured
    expires = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        remaining = float(expires) - time.time()
        if remaining >= 10:
            return min(configured, remaining)
    return configured
