"""PT Sandbox UI API models (``/api/ui``): camelCase on the wire, snake_case in Python.

Every model accepts both the wire alias (``threatLevel``) and the field name (``threat_level``),
keeps unknown fields (``extra="allow"``) so nothing a newer appliance sends is lost, and
dumps back to the wire shape with ``model_dump(by_alias=True)``. Enum-valued fields are soft
(see :mod:`prefect_soar.models.ptsandbox_enums`). Only identifiers are required; everything
else has a default, so a partial object from an older appliance still validates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from prefect_soar.models.ptsandbox_enums import (
    SoftBlacklistStatus,
    SoftEntryPointAction,
    SoftEntryPointStatus,
    SoftEntryPointType,
    SoftFileInfoType,
    SoftNetworkObjectType,
    SoftQuarantineEventType,
    SoftQuarantineState,
    SoftSandboxImageType,
    SoftScanArtifactType,
    SoftScanState,
    SoftThreatClassification,
    SoftThreatPlatform,
    SoftTreeEngineName,
    SoftTreeNodeType,
    SoftVerdict,
)


class UIModel(BaseModel):
    """Base of the UI models: camelCase aliases, unknown fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


class CorrelationInfo(UIModel):
    """An overall verdict (``correlation``, ``sandboxCorrelation``, a scan's ``result``)."""

    state: SoftScanState = "UNKNOWN"
    threat_classification: SoftThreatClassification = "UNKNOWN"
    threat_level: SoftVerdict = "UNKNOWN"
    threat_platform: SoftThreatPlatform = "NO_PLATFORM"
    verdict_priority: int | None = None


class QuarantineEvent(UIModel):
    """One quarantine event (only in task summaries)."""

    type: SoftQuarantineEventType
    time: int | float | None = None
    user_id: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    recipients: list[str] | None = None


class Quarantine(UIModel):
    """Quarantine state of a task's object."""

    state: SoftQuarantineState = "UNKNOWN"
    events: list[QuarantineEvent] | None = None


class SourceInfo(UIModel):
    """HTTP details of an API entry point (``publicApi``, ``scanApi``, ``ptEdr``, ``ptCs``)."""

    user_agent: str | None = None
    x_forwarded_for: str | None = None
    referer: str | None = None


class WebSourceInfo(SourceInfo):
    """HTTP and user details of the web UI entry points (``web``, ``interactiveAnalysis``)."""

    user_id: str | None = None
    user_login: str | None = None
    user_name: str | None = None
    user_is_anonymous: bool | None = None


class EntryPoint(UIModel):
    """Where a task came from and what the entry point did with it."""

    id: str
    type: SoftEntryPointType = "UNKNOWN"
    status: SoftEntryPointStatus = "UNKNOWN"
    action: SoftEntryPointAction = "UNKNOWN"
    quarantine: Quarantine = Field(default_factory=Quarantine)
    client_ip: str | None = None
    public_api: SourceInfo | None = None
    scan_api: SourceInfo | None = None
    pt_edr: SourceInfo | None = None
    pt_cs: SourceInfo | None = None
    web: WebSourceInfo | None = None
    interactive_analysis: WebSourceInfo | None = None
    check_me: dict[str, Any] | None = None
    icap: dict[str, Any] | None = None
    dpi: dict[str, Any] | None = None
    mail_agent: dict[str, Any] | None = None
    mail_bcc: dict[str, Any] | None = None
    file_inbox: dict[str, Any] | None = None
    file_monitor: dict[str, Any] | None = None
    mail_gateway: dict[str, Any] | None = None
    mail_gateway_mta: dict[str, Any] | None = None
    ptnad: dict[str, Any] | None = None


class Task(UIModel):
    """One task (a scanned file, URL or e-mail) of the UI listing.

    ``start`` accepts an ISO 8601 string or an epoch number; ``start_time``, ``processed_time``
    and ``verdict_time`` are epoch seconds.
    """

    id: UUID
    name: str = ""
    object_type: SoftFileInfoType = "FILE"
    start: datetime | None = None
    correlation: CorrelationInfo | None = None
    sandbox_correlation: CorrelationInfo | None = None
    entry_point: EntryPoint | None = None
    start_time: float | None = None
    processed_time: float | None = None
    verdict_time: float | None = None

    @property
    def verdict(self) -> str | None:
        """The overall verdict (``correlation.threatLevel``), if the task has one."""
        return self.correlation.threat_level if self.correlation else None


class TasksPage(UIModel):
    """One page of ``GET /v2/tasks``; ``next_cursor`` is ``""`` on the last page (there is no total)."""

    tasks: list[Task] = Field(default_factory=list)
    current_cursor: str = ""
    next_cursor: str = ""


class TaskSummary(UIModel):
    """``GET /v2/tasks/{scan_id}/summary``: the task, with quarantine events."""

    task: Task


class FilterEntryPoint(UIModel):
    """An entry point offered as a filter value."""

    id: str
    name: str = ""
    type: SoftEntryPointType = "UNKNOWN"


class FilterValues(UIModel):
    """``GET /v2/tasks/filter-values``: values seen in the period, for building queries."""

    entry_points: list[FilterEntryPoint] = Field(default_factory=list)
    threat_classifications: list[str] = Field(default_factory=list)
    properties: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)


class EngineError(UIModel):
    """An error an engine hit while scanning."""

    type: str
    duration: float | None = None
    limit_size: int | None = None


class EngineDetection(UIModel):
    """One detection of an engine."""

    name: str
    threat_classification: SoftThreatClassification = "UNKNOWN"
    id: str | None = None
    description: str | None = None


class Engine(UIModel):
    """The engine of a scan, with its detections and errors."""

    name: SoftTreeEngineName
    database_time: str | None = None
    version: str | None = None
    detections: list[EngineDetection] = Field(default_factory=list)
    errors: list[EngineError] = Field(default_factory=list)


class Scan(UIModel):
    """One engine's scan of an artifact."""

    engine: Engine
    result: CorrelationInfo | None = None


class ScansResponse(UIModel):
    """``GET /v2/tasks/{scan_id}/artifacts/{node_id}/scans``."""

    scans: list[Scan] = Field(default_factory=list)
    yara_test_info: Scan | None = None
    yara_main_info: Scan | None = None


class NodeFileInfo(UIModel):
    """What a tree node is: name, size, hashes, detected type and properties."""

    type: SoftFileInfoType = "FILE"
    name: str = ""
    size: int | None = None
    sha1: str | None = None
    sha256: str | None = None
    md5: str | None = None
    ssdeep: str | None = None
    mime_type: str | None = None
    magic_string: str | None = None
    file_type: str | None = None
    properties: list[str] = Field(default_factory=list)


class ScanArtifact(UIModel):
    """A file the sandbox produced for a node (trace, pcap, video); download it with ``get_files``."""

    name: str
    sha256: str
    size: int | None = None
    type: SoftScanArtifactType | None = None


class NetworkObject(UIModel):
    """A network indicator (URL, IP, domain) found in a node."""

    type: SoftNetworkObjectType
    value: str
    is_scanned: bool | None = None


class ImageOS(UIModel):
    """Operating system of a sandbox image."""

    name: str | None = None
    version: str | None = None
    architecture: str | None = None
    service_pack: str | None = None
    locale: str | None = None


class ImageInfo(UIModel):
    """The VM image a behavioural analysis ran on."""

    name: str | None = None
    type: SoftSandboxImageType | None = None
    version: str | None = None
    os: ImageOS | None = None


class SuspiciousBehavior(UIModel):
    """A behaviour rule that fired during behavioural analysis."""

    name: str
    version: str | None = None
    mitre_threat_id: str | None = None
    weight: int | float | None = None
    id: str | None = None
    description: str | None = None


class SandboxInfo(UIModel):
    """Behavioural-analysis details of a ``SANDBOX`` node."""

    analysis_duration: float | None = None
    analysis_planned_duration: float | None = None
    dpi_rules_version: str | None = None
    correlation_rules_version: str | None = None
    mitm: bool | None = None
    image_info: ImageInfo | None = None
    auto_select: bool | None = None
    suspicious_behaviors: list[SuspiciousBehavior] = Field(default_factory=list)
    detections: list[EngineDetection] = Field(default_factory=list)
    errors: list[EngineError] = Field(default_factory=list)
    bootkitmon: bool | None = None
    stage_index: int | None = None
    file_type: str | None = None
    result: CorrelationInfo | None = None
    network: dict[str, Any] | None = None
    bootkitmon_stage: dict[str, Any] | None = None


class BWListsInfo(UIModel):
    """Black/white-list check of a node."""

    state: SoftScanState | None = None
    status: SoftBlacklistStatus | None = None
    hashes: list[Any] = Field(default_factory=list)
    errors: list[EngineError] = Field(default_factory=list)


class TreeNode(UIModel):
    """One node of a task's artifact tree.

    ``parent_ids`` is the ancestor chain (node 3 under 0 → 1 → 2 has ``[0, 1, 2]``);
    ``first_child_count`` tells whether there is more below ``max_tree_level``.
    """

    node_id: int
    parent_ids: list[int] = Field(default_factory=list)
    node_type: SoftTreeNodeType = "ARTIFACT"
    scans: list[Scan] = Field(default_factory=list)
    info: NodeFileInfo | None = None
    first_child_count: int = 0
    correlation: CorrelationInfo | None = None
    scan_artifacts: list[ScanArtifact] = Field(default_factory=list)
    sandbox_info: SandboxInfo | None = None
    email_info: dict[str, Any] | None = None
    archive_info: dict[str, Any] | None = None
    url_info: dict[str, Any] | None = None
    unpacker_info: dict[str, Any] | None = None
    bw_lists_info: BWListsInfo | None = None
    network_objects: list[NetworkObject] = Field(default_factory=list)
    cache_info: dict[str, Any] | None = None
    is_match: bool | None = None
    matched_fields: list[str] | None = None
    sandbox_drop_info: dict[str, Any] | None = None
    sandbox_proc_dump_info: dict[str, Any] | None = None
    sandbox_mem_dump_info: dict[str, Any] | None = None
    ptcategorizer_info: dict[str, Any] | None = None
    yara_test_info: dict[str, Any] | None = None
    yara_main_info: dict[str, Any] | None = None

    @property
    def path(self) -> list[int]:
        """The node's full path (its ancestors, then itself), as ``parent_path`` expects."""
        return [*self.parent_ids, self.node_id]


class TreeResponse(UIModel):
    """``GET /v2/tasks/{scan_id}/tree``: a page of nodes; read on while ``has_more``."""

    children: list[TreeNode] = Field(default_factory=list)
    has_more: bool = False


class AuthorizeData(UIModel):
    """``GET /auth/authorize`` data: where the IdP login starts."""

    location: str | None = None


class TokenData(UIModel):
    """``POST /auth/token`` data: the bearer token."""

    access_token: str | None = None


__all__ = [
    "AuthorizeData",
    "BWListsInfo",
    "CorrelationInfo",
    "Engine",
    "EngineDetection",
    "EngineError",
    "EntryPoint",
    "FilterEntryPoint",
    "FilterValues",
    "ImageInfo",
    "ImageOS",
    "NetworkObject",
    "NodeFileInfo",
    "Quarantine",
    "QuarantineEvent",
    "SandboxInfo",
    "Scan",
    "ScanArtifact",
    "ScansResponse",
    "SourceInfo",
    "SuspiciousBehavior",
    "Task",
    "TaskSummary",
    "TasksPage",
    "TokenData",
    "TreeNode",
    "TreeResponse",
    "UIModel",
    "WebSourceInfo",
]
