"""Request authentication of the ThreatConnect emulator: HMAC signatures and API tokens.

HMAC: ``Authorization: TC <accessId>:<base64 HMAC-SHA256>`` over
``{raw path}[?{raw query}]:{METHOD}:{Timestamp}``, where the path and query are the bytes on the
request line (never re-encoded) and ``Timestamp`` is integer epoch seconds within the window.
Token: ``Authorization: TC-Token <token>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SIGNATURE_MISMATCH = "Signature Data Did Not Match Expected Result"
TIMESTAMP_OUT_OF_RANGE = "Timestamp Out of Acceptable Time Range"
ACCESS_DENIED = "Access Denied"
UNAUTHORIZED = "Unauthorized"


class AuthFailure(Exception):
    """The request is not authenticated; ``message`` is the API's text."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def string_to_sign(path_with_query: bytes | str, method: str, timestamp: str) -> bytes:
    """The signed bytes: ``{path_with_query}:{METHOD}:{timestamp}``."""
    path = path_with_query.encode() if isinstance(path_with_query, str) else path_with_query
    return path + f":{method.upper()}:{timestamp}".encode()


def signature(secret_key: str, message: bytes | str) -> str:
    """``base64(HMAC-SHA256(secret_key, message))``."""
    data = message.encode() if isinstance(message, str) else message
    return base64.b64encode(hmac.new(secret_key.encode(), data, hashlib.sha256).digest()).decode()


def request_target(raw_path: bytes, query_string: bytes) -> bytes:
    """The path and query as they were on the request line."""
    return raw_path + (b"?" + query_string if query_string else b"")


@dataclass
class Authenticator:
    """Checks one request's ``Authorization`` (and ``Timestamp``) headers.

    Args:
        access_id: The accepted Access ID.
        secret_key: Its Secret Key.
        api_token: The accepted API token.
        window_seconds: Accepted ``Timestamp`` skew.
        clock: Epoch-seconds clock.
        token_expires_at: Epoch second the token stops working (``inf``: never).
    """

    access_id: str
    secret_key: str
    api_token: str
    window_seconds: float
    clock: Callable[[], float]
    token_expires_at: Callable[[], float] = lambda: math.inf

    def check(self, method: str, target: bytes, headers: Mapping[str, str]) -> str:
        """Return how the request authenticated (``"hmac"`` or ``"token"``) or raise :class:`AuthFailure`."""
        authorization = headers.get("authorization", "").strip()
        scheme, _, credentials = authorization.partition(" ")
        credentials = credentials.strip()
        if scheme == "TC-Token":
            if not credentials or not hmac.compare_digest(credentials.encode(), self.api_token.encode()):
                raise AuthFailure(UNAUTHORIZED)
            if self.clock() >= self.token_expires_at():
                raise AuthFailure(UNAUTHORIZED)
            return "token"
        if scheme != "TC" or ":" not in credentials:
            raise AuthFailure(ACCESS_DENIED)
        access_id, _, sent = credentials.rpartition(":")
        timestamp = headers.get("timestamp", "").strip()
        valid = timestamp.isascii() and timestamp.isdigit()
        if not valid or abs(self.clock() - int(timestamp)) > self.window_seconds:
            raise AuthFailure(TIMESTAMP_OUT_OF_RANGE)
        if not hmac.compare_digest(access_id.encode(), self.access_id.encode()):
            raise AuthFailure(ACCESS_DENIED)
        expected = signature(self.secret_key, string_to_sign(target, method, timestamp))
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise AuthFailure(SIGNATURE_MISMATCH)
        return "hmac"
