"""PT Sandbox public API models (``/api/v1``): snake_case on the wire.

Responses come in a ``{"data": ..., "errors": [...]}`` envelope (:class:`Envelope`); the
client unwraps it and returns the ``data`` models below. Unknown fields are kept; enum fields
are soft. Request models (:class:`ScanOptions`, :class:`SandboxOptions`) carry the reference
SDK's defaults and limits and are sent without their ``None`` fields.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from prefect_soar.models.ptsandbox_enums import (
    SoftArtifactType,
    SoftEngineSubsystem,
    SoftLogType,
    SoftNetworkObjectType,
    SoftSandboxImageType,
    SoftScanState,
    SoftVerdict,
)


class APIModel(BaseModel):
    """Base of the public API models: snake_case, unknown fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class APIError(APIModel):
    """One entry of an envelope's ``errors`` (``type`` e.g. ``internal``, ``max_depth_exceeded``)."""

    message: str = ""
    type: str = ""


class Envelope(APIModel):
    """The public API envelope: ``data`` plus ``errors`` (which may be non-empty with HTTP 200)."""

    data: Any = None
    errors: list[APIError] = Field(default_factory=list)


class SandboxResult(APIModel):
    """Verdict and state of a scan or of one artifact."""

    scan_state: SoftScanState = "UNKNOWN"
    duration: float | None = None
    duration_full: float | None = None
    verdict: SoftVerdict | None = None
    threat: str | None = None
    errors: list[APIError] = Field(default_factory=list)


class UploadedFile(APIModel):
    """``POST /storage/uploadScanFile``: a temporary URI to scan, valid for ``ttl`` seconds."""

    file_uri: str
    ttl: int | None = None


class ScanCreated(APIModel):
    """A scan task was created; poll it with ``check_task`` / ``wait_for_report``."""

    scan_id: UUID


class TaskStatus(APIModel):
    """``POST /analysis/checkTask``: ``is_preflight`` while queued, then the current ``result``."""

    scan_id: UUID
    result: SandboxResult | None = None
    is_preflight: bool | None = None

    @property
    def is_done(self) -> bool:
        """Whether the scan reached ``FULL``."""
        return self.result is not None and self.result.scan_state == "FULL"


class FileDetails(APIModel):
    """Extra details of a file artifact."""

    process_dump: dict[str, Any] | None = None


class FileInfo(APIModel):
    """A file artifact: URI to download it with, path, type and hashes."""

    file_uri: str | None = None
    file_path: str | None = None
    mime_type: str | None = None
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    ssdeep: str | None = None
    size: int | None = None
    details: FileDetails | None = None


class Detection(APIModel):
    """One detection of an engine: the detect name and the threat class."""

    detect: str
    threat: str | None = None


class SandboxLog(APIModel):
    """A log file of behavioural analysis (pcap, events, video)."""

    type: SoftLogType
    file_uri: str
    file_name: str | None = None


class SandboxImageOS(APIModel):
    """Operating system of a sandbox image."""

    name: str | None = None
    version: str | None = None
    architecture: str | None = None
    service_pack: str | None = Field(default=None, validation_alias=AliasChoices("service_pack", "servicePack"))
    locale: str | None = None


class SandboxImage(APIModel):
    """A sandbox VM image (``image_id`` is also accepted as ``name`` or ``id``)."""

    image_id: str = Field(validation_alias=AliasChoices("image_id", "name", "id"))
    type: SoftSandboxImageType | None = None
    version: str | None = None
    os: SandboxImageOS | None = None


class NetworkObject(APIModel):
    """A network indicator seen during analysis."""

    type: SoftNetworkObjectType
    value: str


class SuspiciousBehavior(APIModel):
    """A behaviour rule that fired during analysis."""

    name: str
    version: str | None = None
    mitre_threat_id: str | None = None
    weight: int | float | None = None


class SandboxDetails(APIModel):
    """Behavioural-analysis part of a ``SANDBOX`` engine result."""

    image: SandboxImage | None = None
    logs: list[SandboxLog] = Field(default_factory=list)
    artifacts: list[Artifact] | None = None
    stages: list[Any] = Field(default_factory=list)
    analysis_duration: float | None = None
    bootkitmon: bool | None = None
    network_objects: list[NetworkObject] = Field(default_factory=list)
    suspicious_behaviors: list[SuspiciousBehavior] = Field(default_factory=list)


class EngineDetails(APIModel):
    """Engine-specific details of a result."""

    sandbox: SandboxDetails | None = None


class EngineResult(APIModel):
    """One engine's verdict on an artifact."""

    engine_subsystem: SoftEngineSubsystem
    engine_code_name: str
    engine_version: str | None = None
    database_version: str | None = None
    database_time: str | None = None
    result: SandboxResult | None = None
    detections: list[Detection] = Field(default_factory=list)
    details: EngineDetails | None = None


class Artifact(APIModel):
    """A scanned object (the sample, an unpacked member, a dropped file), recursive."""

    type: SoftArtifactType
    result: SandboxResult | None = None
    file_info: FileInfo | None = None
    engine_results: list[EngineResult] | None = None
    artifacts: list[Artifact] | None = None
    network_objects: list[NetworkObject] = Field(default_factory=list)


class Report(APIModel):
    """``POST /analysis/report``: short (``scan_id`` only) until the scan is done, then long."""

    scan_id: UUID
    result: SandboxResult | None = None
    artifacts: list[Artifact] = Field(default_factory=list)

    @property
    def is_long(self) -> bool:
        """Whether this is the full report (it has a ``result``)."""
        return self.result is not None

    @property
    def verdict(self) -> str | None:
        """The overall verdict, once the report is long."""
        return self.result.verdict if self.result else None


class APITaskItem(APIModel):
    """One task of the public ``listTasks``."""

    id: UUID
    name: str = ""
    entry_point_id: str | None = None
    entry_point_type: str | None = None
    start_time: float | None = None
    scan_state: SoftScanState | None = None
    duration: float | None = None
    duration_full: float | None = None
    verdict: SoftVerdict | None = None
    threat: str | None = None


class APITasksPage(APIModel):
    """Public ``listTasks`` (not enveloped): tasks plus ``next_cursor`` (``""`` at the end)."""

    tasks: list[APITaskItem] = Field(default_factory=list)
    next_cursor: str = ""


class Version(APIModel):
    """``GET /maintenance/getVersion``."""

    version: str
    edition: str | None = None


class SandboxOptions(APIModel):
    """Behavioural-analysis options of a scan request (the reference SDK's defaults)."""

    enabled: bool = True
    image_id: str = "win7-sp1-x64"
    analysis_duration: int = Field(default=120, ge=10, description="Seconds the sample runs in the VM.")
    bootkitmon: bool = False
    analysis_duration_bootkitmon: int = Field(default=60, ge=10)
    save_video: bool = False
    mitm_enabled: bool = False
    procdump_new_processes_on_finish: bool = False
    custom_command: str | None = None
    file_types: list[str] | None = None
    debug_options: dict[str, Any] = Field(default_factory=lambda: {"save_debug_files": False})


class ScanOptions(APIModel):
    """Options of ``createScanTask`` / ``createScanURLTask`` (the reference SDK's defaults and limits)."""

    analysis_depth: int = Field(default=2, ge=0)
    scan_timeout: int = Field(default=1200, ge=10, le=3600)
    max_execution_time: int = Field(default=3600, ge=300, le=10800)
    passwords_for_unpack: list[str] = Field(default_factory=list)
    cache_enabled: bool = False
    url_extract_enabled: bool = True
    enable_experimental_yara_rules: bool = False
    mark_dangerous_files_options: dict[str, Any] = Field(default_factory=lambda: {"apk_tampered": True})
    mark_suspicious_files_options: dict[str, Any] | None = None
    sandbox: SandboxOptions = Field(default_factory=SandboxOptions)


__all__ = [
    "APIError",
    "APIModel",
    "APITaskItem",
    "APITasksPage",
    "Artifact",
    "Detection",
    "EngineDetails",
    "EngineResult",
    "Envelope",
    "FileDetails",
    "FileInfo",
    "NetworkObject",
    "Report",
    "SandboxDetails",
    "SandboxImage",
    "SandboxImageOS",
    "SandboxLog",
    "SandboxOptions",
    "SandboxResult",
    "ScanCreated",
    "ScanOptions",
    "SuspiciousBehavior",
    "TaskStatus",
    "UploadedFile",
    "Version",
]

SandboxDetails.model_rebuild()
EngineDetails.model_rebuild()
Artifact.model_rebuild()
