"""PT Sandbox models: UI API (camelCase), public API (snake_case), soft enums, download results.

Import from here. The UI and the public API both define ``NetworkObject`` and
``SuspiciousBehavior``: the public API's keep the plain names here, the UI's are
``TreeNetworkObject`` / ``TreeSuspiciousBehavior``. Definitions live in
:mod:`~prefect_soar.models.ptsandbox_ui`, :mod:`~prefect_soar.models.ptsandbox_api` and
:mod:`~prefect_soar.models.ptsandbox_enums`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from prefect_soar.models.ptsandbox_api import (
    APIError,
    APIModel,
    APITaskItem,
    APITasksPage,
    Artifact,
    Detection,
    EngineDetails,
    EngineResult,
    Envelope,
    FileDetails,
    FileInfo,
    NetworkObject,
    Report,
    SandboxDetails,
    SandboxImage,
    SandboxImageOS,
    SandboxLog,
    SandboxOptions,
    SandboxResult,
    ScanCreated,
    ScanOptions,
    SuspiciousBehavior,
    TaskStatus,
    UploadedFile,
    Version,
)
from prefect_soar.models.ptsandbox_enums import (
    ArtifactType,
    BlacklistStatus,
    EngineSubsystem,
    EntryPointAction,
    EntryPointStatus,
    EntryPointType,
    FileInfoType,
    LogType,
    NetworkObjectType,
    QuarantineEventType,
    QuarantineState,
    SandboxImageType,
    ScanArtifactType,
    ScanState,
    SortMode,
    TaskCsvColumn,
    ThreatClassification,
    ThreatPlatform,
    TreeEngineName,
    TreeNodeType,
    Verdict,
)
from prefect_soar.models.ptsandbox_ui import (
    AuthorizeData,
    BWListsInfo,
    CorrelationInfo,
    Engine,
    EngineDetection,
    EngineError,
    EntryPoint,
    FilterEntryPoint,
    FilterValues,
    ImageInfo,
    ImageOS,
    NodeFileInfo,
    Quarantine,
    QuarantineEvent,
    SandboxInfo,
    Scan,
    ScanArtifact,
    ScansResponse,
    SourceInfo,
    Task,
    TasksPage,
    TaskSummary,
    TokenData,
    TreeNode,
    TreeResponse,
    UIModel,
    WebSourceInfo,
)
from prefect_soar.models.ptsandbox_ui import NetworkObject as TreeNetworkObject
from prefect_soar.models.ptsandbox_ui import SuspiciousBehavior as TreeSuspiciousBehavior


class DownloadedFile(BaseModel):
    """A file written to disk by a download: where, how big, and its SHA-256.

    Attributes:
        path: Absolute path of the written file (mode 0600).
        size: Size in bytes.
        sha256: Hex SHA-256 of the content, computed while writing.
    """

    model_config = ConfigDict(frozen=True)

    path: Path
    size: int
    sha256: str


class DownloadedArchive(DownloadedFile):
    """An encrypted ZIP written to disk (password ``infected``); open it with :mod:`prefect_soar.safe_archive`."""


__all__ = [
    "APIError",
    "APIModel",
    "APITaskItem",
    "APITasksPage",
    "Artifact",
    "ArtifactType",
    "AuthorizeData",
    "BWListsInfo",
    "BlacklistStatus",
    "CorrelationInfo",
    "Detection",
    "DownloadedArchive",
    "DownloadedFile",
    "Engine",
    "EngineDetails",
    "EngineDetection",
    "EngineError",
    "EngineResult",
    "EngineSubsystem",
    "EntryPoint",
    "EntryPointAction",
    "EntryPointStatus",
    "EntryPointType",
    "Envelope",
    "FileDetails",
    "FileInfo",
    "FileInfoType",
    "FilterEntryPoint",
    "FilterValues",
    "ImageInfo",
    "ImageOS",
    "LogType",
    "NetworkObject",
    "NetworkObjectType",
    "NodeFileInfo",
    "Quarantine",
    "QuarantineEvent",
    "QuarantineEventType",
    "QuarantineState",
    "Report",
    "SandboxDetails",
    "SandboxImage",
    "SandboxImageOS",
    "SandboxImageType",
    "SandboxInfo",
    "SandboxLog",
    "SandboxOptions",
    "SandboxResult",
    "Scan",
    "ScanArtifact",
    "ScanArtifactType",
    "ScanCreated",
    "ScanOptions",
    "ScanState",
    "ScansResponse",
    "SortMode",
    "SourceInfo",
    "SuspiciousBehavior",
    "Task",
    "TaskCsvColumn",
    "TaskStatus",
    "TaskSummary",
    "TasksPage",
    "ThreatClassification",
    "ThreatPlatform",
    "TokenData",
    "TreeEngineName",
    "TreeNetworkObject",
    "TreeNode",
    "TreeNodeType",
    "TreeResponse",
    "TreeSuspiciousBehavior",
    "UIModel",
    "UploadedFile",
    "Verdict",
    "Version",
    "WebSourceInfo",
]
