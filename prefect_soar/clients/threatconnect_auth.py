"""ThreatConnect request authentication: HMAC signing (Access ID + Secret Key) and API tokens.

HMAC signs ``"{path_with_query}:{METHOD}:{timestamp}"`` with HMAC-SHA256 keyed by the secret
key, base64 encoded, and sends ``Authorization: TC <access_id>:<signature>`` with
``Timestamp: <unix seconds>``. The path signed is exactly what goes on the wire: httpx's
``request.url.raw_path`` (the ``/api`` prefix, the percent-encoded path and the query as
sent). The signature is made inside :meth:`httpx.Auth.auth_flow`, so every retry and every
request is signed afresh with a new timestamp.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Generator

import httpx

from prefect_soar._redact import register_secret
from prefect_soar.errors import BadInputError

Clock = Callable[[], float]


def hmac_signature(secret_key: str, path_with_query: str, method: str, timestamp: int | str) -> str:
    """Compute a ThreatConnect HMAC signature.

    Args:
        secret_key: The API user's secret key.
        path_with_query: The raw path including ``/api`` and ``?query`` as sent.
        method: The HTTP method (upper-cased here).
        timestamp: Unix seconds, as sent in the ``Timestamp`` header.

    Returns:
        The base64 signature (standard alphabet, padded).
    """
    message = f"{path_with_query}:{method.upper()}:{timestamp}"
    digest = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class ThreatConnectHMACAuth(httpx.Auth):
    """Signs every request with the API user's Access ID and Secret Key.

    Args:
        access_id: The API user's Access ID.
        secret_key: The API user's Secret Key (registered for redaction).
        clock: Returns the current Unix time; injectable for tests.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, access_id: str, secret_key: str, *, clock: Clock = time.time) -> None:
        if not access_id or not secret_key:
            raise BadInputError("HMAC auth needs both access_id and secret_key", service="threatconnect")
        register_secret(secret_key)
        self.access_id = access_id
        self._secret_key = secret_key
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(access_id={self.access_id!r})"

    def sign(self, request: httpx.Request) -> None:
        """Put ``Timestamp`` and ``Authorization`` on the request for its current raw path."""
        timestamp = str(int(self._clock()))
        path_with_query = request.url.raw_path.decode("ascii")
        signature = hmac_signature(self._secret_key, path_with_query, request.method, timestamp)
        request.headers["Timestamp"] = timestamp
        request.headers["Authorization"] = f"TC {self.access_id}:{signature}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request


class ThreatConnectTokenAuth(httpx.Auth):
    """Sends ``Authorization: TC-Token <api_token>`` (a per-user API token).

    Args:
        api_token: The token (registered for redaction).
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, api_token: str) -> None:
        if not api_token:
            raise BadInputError("token auth needs a non-empty api_token", service="threatconnect")
        register_secret(api_token)
        self._api_token = api_token

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"TC-Token {self._api_token}"
        yield request


__all__ = ["ThreatConnectHMACAuth", "ThreatConnectTokenAuth", "hmac_signature"]
