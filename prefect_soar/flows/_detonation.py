"""Pieces of the detonation flow: what is detonated, its marker, and how the verdict is recorded."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from prefect_soar.errors import BadInputError
from prefect_soar.models.ptsandbox import Report, Verdict
from prefect_soar.models.threatconnect import AttributeSpec, TaskSpec

DETONATION_REQUESTED = "prefect-soar.detonation.requested"
"""Event that asks for a detonation; its payload carries ``file_path`` or ``url`` (+ ``tags``, ``requested_by``)."""
DETONATION_COMPLETED = "prefect-soar.detonation.completed"
"""Event emitted once a verdict is recorded; resource ``ptsandbox.task.<scan id>``."""
SOURCE = "pt-sandbox"
DETONATION_TAG = "detonation"
URL_SCHEMES = ("http", "https", "ftp")
_CHUNK = 1024 * 1024
_NAME_LIMIT = 150
_SCAN_ID = re.compile(r"^Scan id: ([0-9a-fA-F-]{36})$", re.MULTILINE)


@dataclass(frozen=True)
class DetonationTarget:
    """A validated file or URL to detonate.

    Attributes:
        kind: ``file`` or ``url``.
        value: The absolute file path, or the URL (stripped).
        sha256: SHA-256 of the file's bytes, or of the URL's UTF-8 text.
        size: File size in bytes (None for a URL).
    """

    kind: Literal["file", "url"]
    value: str
    sha256: str
    size: int | None = None

    @property
    def display_name(self) -> str:
        """The file's name or the URL, shortened for titles."""
        text = Path(self.value).name if self.kind == "file" else self.value
        return text if len(text) <= _NAME_LIMIT else text[: _NAME_LIMIT - 1] + "…"

    @property
    def marker(self) -> str:
        """The ThreatConnect marker: ``detonation:<sha256>`` or ``detonation:url:<sha256>``."""
        return f"detonation:{self.sha256}" if self.kind == "file" else f"detonation:url:{self.sha256}"

    @property
    def resource_id(self) -> str:
        """The resource id of the request event: ``prefect-soar.detonation.<sha256>``."""
        return request_resource_id(self.sha256)


def request_resource_id(sha256: str) -> str:
    """The resource id of a detonation request: ``prefect-soar.detonation.<sha256>``."""
    return f"prefect-soar.detonation.{sha256}"


def url_sha256(url: str) -> str:
    """SHA-256 of a URL's text (stripped), the URL's identity for markers and events."""
    return hashlib.sha256(url.strip().encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_url(url: str) -> str:
    """The stripped URL when it is an absolute http(s)/ftp URL with a host; BadInputError otherwise."""
    text = url.strip()
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in URL_SCHEMES or not parsed.host:
        raise BadInputError(
            f"url must be an absolute http(s) or ftp URL with a host, got {url!r}",
            service="detonation", hint="Pass e.g. https://example.com/login.php",
        )
    return text


def check_file(file_path: str, max_bytes: int) -> tuple[Path, int]:
    """The absolute path and size of a readable, non-empty regular file within ``max_bytes``."""
    path = Path(file_path).expanduser()
    hint = "The path is read on the machine that runs the flow (the worker), not where the request came from"
    if not path.exists():
        raise BadInputError(f"file_path {file_path!r} does not exist", service="detonation", hint=hint)
    if not path.is_file():
        raise BadInputError(f"file_path {file_path!r} is not a regular file", service="detonation", hint=hint)
    if not os.access(path, os.R_OK):
        raise BadInputError(
            f"file_path {file_path!r} is not readable by this process", service="detonation",
            hint="Give the worker's user read permission on the file",
        )
    size = path.stat().st_size
    if size == 0:
        raise BadInputError(f"file_path {file_path!r} is empty; there is nothing to detonate", service="detonation")
    if size > max_bytes:
        raise BadInputError(
            f"file_path {file_path!r} is {size} bytes, over the limit of {max_bytes} bytes",
            service="detonation", hint="Raise max_file_mb if your PT Sandbox accepts larger samples",
        )
    return path.resolve(), size


async def resolve_target(file_path: str | None, url: str | None, max_file_bytes: int) -> DetonationTarget:
    """Validate the request (exactly one of a file or a URL) and identify what is detonated.

    Args:
        file_path: Path of a file on this machine (empty or None when a URL is given).
        url: URL to detonate (empty or None when a file is given).
        max_file_bytes: Largest file accepted.

    Raises:
        BadInputError: Both or neither given, the file is missing, unreadable, empty or too large,
            or the URL is not an absolute http(s)/ftp URL.
    """
    has_file = bool(file_path and file_path.strip())
    has_url = bool(url and url.strip())
    if has_file == has_url:
        which = "both" if has_file else "neither"
        raise BadInputError(
            f"give exactly one of file_path or url ({which} given)", service="detonation",
            hint="Detonate one object per run; send one event per file or URL",
        )
    if has_url:
        assert url is not None
        text = check_url(url)
        return DetonationTarget("url", text, url_sha256(text))
    assert file_path is not None
    path, size = check_file(file_path.strip(), max_file_bytes)
    return DetonationTarget("file", str(path), await asyncio.to_thread(file_sha256, path), size)


def threat_classes(report: Report) -> list[str]:
    """Distinct threat classifications of the report's detections (e.g. ``VIRUS``, ``PHISHING``)."""
    found: dict[str, None] = {}

    def walk(artifacts: list[Any]) -> None:
        for artifact in artifacts:
            for engine in artifact.engine_results or []:
                for detection in engine.detections:
                    if detection.threat and detection.threat not in ("UNKNOWN", ""):
                        found.setdefault(str(detection.threat), None)
            walk(artifact.artifacts or [])

    walk(report.artifacts)
    return list(found)


class DetonationRecord(BaseModel):
    """What ThreatConnect holds about a detonation of an object.

    Attributes:
        task_id: The ThreatConnect task id.
        complete: Whether the task carries its commit mark (False: an interrupted run left it half-built).
        scan_id: The PT Sandbox scan id, read from the task's description (written atomically with the task).
        verdict: The verdict (from the tags), when present.
        web_link: Link to the task in ThreatConnect.
    """

    task_id: int
    complete: bool = True
    scan_id: str | None = None
    verdict: str | None = None
    web_link: str | None = None


def scan_id_in(text: str | None) -> str | None:
    """The scan id that :func:`description` wrote into a text, if any."""
    match = _SCAN_ID.search(text or "")
    return match.group(1).lower() if match else None


VERDICTS = frozenset(v.value for v in Verdict)


def description(target: DetonationTarget, report: Report, requested_by: str) -> str:
    """The readable ``Description`` attribute of the ThreatConnect task."""
    result = report.result
    lines = [
        f"PT Sandbox detonation of {'file' if target.kind == 'file' else 'URL'} {target.display_name}",
        f"Verdict: {report.verdict or 'UNKNOWN'}",
        f"Threat: {(result.threat if result else None) or 'none'}",
        f"Scan id: {report.scan_id}",
        f"SHA-256: {target.sha256}" if target.kind == "file" else f"URL: {target.value}",
    ]
    if requested_by:
        lines.append(f"Requested by: {requested_by}")
    return "\n".join(lines)


def task_spec(
    target: DetonationTarget,
    report: Report,
    *,
    tags: list[str],
    requested_by: str,
    security_label: str | None,
    status: str,
) -> TaskSpec:
    """The ThreatConnect task recording a verdict, keyed by the target's marker."""
    verdict = str(report.verdict or Verdict.UNKNOWN)
    text = description(target, report, requested_by)
    all_tags = list(dict.fromkeys([SOURCE, DETONATION_TAG, verdict, *threat_classes(report), *tags]))
    return TaskSpec(
        marker=target.marker,
        name=f"Detonation of {target.display_name}: {verdict}",
        status=status or None,
        description=text,
        tags=all_tags,
        attributes=[
            AttributeSpec(type="Description", value=text, displayed=True),
            AttributeSpec(type="Source", value=SOURCE),
            AttributeSpec(type="External ID", value=str(report.scan_id)),
        ],
        security_labels=[security_label] if security_label else [],
    )
