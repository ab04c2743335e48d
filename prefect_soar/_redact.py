"""Keep secrets out of every string prefect-soar produces.

Clients register the secrets they hold with :func:`register_secret`; :func:`redact` masks
every registered value, plus credentials that look like credentials (URL user-info, sensitive
query parameters, ``Authorization``-style headers) even when they were never registered.
:class:`SecretRedactingFilter` applies the same to log records.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "**********"
_MIN_SECRET_LENGTH = 4

_SENSITIVE_PARAMS = re.compile(
    r"(pass(word)?|secret|token|api[-_]?key|apikey|signature|sig|auth|credential|session|cookie|key)$",
    re.IGNORECASE,
)
_HEADER_LIKE = re.compile(
    r"(?i)\b(authorization|x-api-key|x-tiledb-rest-api-key|cookie|set-cookie)(\s*[:=]\s*)([^\s,;'\"]+(?:\s+[^\s,;'\"]+)?)"
)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)([^/@\s:]+)(:[^/@\s]*)?@")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` masks it everywhere from now on.

    Args:
        value: The secret's plain value. Empty and very short values are ignored.
    """
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str | None) -> str:
    """Return ``text`` with every registered secret and credential-looking value masked.

    Args:
        text: Any string: a URL, a message, a log line.

    Returns:
        The same text with secrets replaced by ``**********``.
    """
    if not text:
        return text or ""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    return _HEADER_LIKE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def redact_url(url: str) -> str:
    """Return the URL with user-info and sensitive query parameters masked.

    Args:
        url: An absolute or relative URL.

    Returns:
        The URL, safe to put in a log line or an error message.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SENSITIVE_PARAMS.search(k) else v) for k, v in pairs], safe=":,*")
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


class SecretRedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the record's message once, redacted, and drop its args."""
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken format string is the caller's bug
            return True
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
