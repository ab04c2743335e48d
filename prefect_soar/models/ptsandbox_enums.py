"""PT Sandbox enumerations, as "soft" enums.

Each ``StrEnum`` documents the values the reference SDK knows. Model fields use the ``Soft*``
aliases: a known value becomes the enum member, an unknown one (a newer appliance) is kept as
the plain string instead of failing validation. Members compare equal to their strings, so
``task.correlation.threat_level == "DANGEROUS"`` works either way.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator


def soft_enum(enum_cls: type[StrEnum]) -> Callable[[Any], Any]:
    """A validator that turns a known value into ``enum_cls`` and leaves any other value alone."""

    def convert(value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, enum_cls):
            try:
                return enum_cls(value)
            except ValueError:
                return value
        return value

    return convert


class Verdict(StrEnum):
    """Threat level of a task or artifact (``threatLevel`` in the UI, ``verdict`` in the public API)."""

    CLEAN = "CLEAN"
    UNWANTED = "UNWANTED"
    DANGEROUS = "DANGEROUS"
    UNKNOWN = "UNKNOWN"


class ScanState(StrEnum):
    """How completely an object was scanned (``state`` / ``scan_state``)."""

    UNKNOWN = "UNKNOWN"
    PARTIAL = "PARTIAL"
    FULL = "FULL"
    UNSCANNED = "UNSCANNED"


class ThreatPlatform(StrEnum):
    """Platform a threat targets."""

    ANDROID = "ANDROID"
    IOS = "IOS"
    LINUX = "LINUX"
    OSX = "OSX"
    WINDOWS = "WINDOWS"
    NO_PLATFORM = "NO_PLATFORM"


class ThreatClassification(StrEnum):
    """Class of a detected threat (``threatClassification``)."""

    ADWARE = "ADWARE"
    BACKDOOR = "BACKDOOR"
    BOOTKIT = "BOOTKIT"
    BOT = "BOT"
    CLIENT_IRC = "CLIENT_IRC"
    CLIENT_P2P = "CLIENT_P2P"
    CLIENT_SMTP = "CLIENT_SMTP"
    CONSTRUCTOR = "CONSTRUCTOR"
    DIALER = "DIALER"
    DOS = "DOS"
    DOWNLOADER = "DOWNLOADER"
    EMAIL_FLOODER = "EMAIL_FLOODER"
    EMAIL_WORM = "EMAIL_WORM"
    EXPLOIT = "EXPLOIT"
    FLOODER = "FLOODER"
    FRAUDTOOL = "FRAUDTOOL"
    HACKTOOL = "HACKTOOL"
    HOAX = "HOAX"
    IM_FLOODER = "IM_FLOODER"
    IM_WORM = "IM_WORM"
    IRC_WORM = "IRC_WORM"
    MONITOR = "MONITOR"
    NETTOOL = "NETTOOL"
    NET_WORM = "NET_WORM"
    P2P_WORM = "P2P_WORM"
    PHISHING = "PHISHING"
    PSWTOOL = "PSWTOOL"
    REMOTEADMIN = "REMOTEADMIN"
    RISKTOOL = "RISKTOOL"
    ROOTKIT = "ROOTKIT"
    SERVER_FTP = "SERVER_FTP"
    SERVER_PROXY = "SERVER_PROXY"
    SERVER_TELNET = "SERVER_TELNET"
    SERVER_WEB = "SERVER_WEB"
    SMS_FLOODER = "SMS_FLOODER"
    SPAM = "SPAM"
    SPOOFER = "SPOOFER"
    TROJAN = "TROJAN"
    TROJAN_ARCBOMB = "TROJAN_ARCBOMB"
    TROJAN_ATM = "TROJAN_ATM"
    TROJAN_BANKER = "TROJAN_BANKER"
    TROJAN_CLICKER = "TROJAN_CLICKER"
    TROJAN_DDOS = "TROJAN_DDOS"
    TROJAN_DOWNLOADER = "TROJAN_DOWNLOADER"
    TROJAN_DROPPER = "TROJAN_DROPPER"
    TROJAN_FAKEAV = "TROJAN_FAKEAV"
    TROJAN_GAMETHIEF = "TROJAN_GAMETHIEF"
    TROJAN_IM = "TROJAN_IM"
    TROJAN_MAILFINDER = "TROJAN_MAILFINDER"
    TROJAN_MINER = "TROJAN_MINER"
    TROJAN_NOTIFIER = "TROJAN_NOTIFIER"
    TROJAN_POS = "TROJAN_POS"
    TROJAN_PROXY = "TROJAN_PROXY"
    TROJAN_PSW = "TROJAN_PSW"
    TROJAN_RANSOM = "TROJAN_RANSOM"
    TROJAN_SMS = "TROJAN_SMS"
    TROJAN_SPY = "TROJAN_SPY"
    TROJAN_WIPER = "TROJAN_WIPER"
    UNKNOWN = "UNKNOWN"
    UNKNOWN_THREAT = "UNKNOWN_THREAT"
    VIRTOOL = "VIRTOOL"
    VIRUS = "VIRUS"
    WEBTOOLBAR = "WEBTOOLBAR"
    WORM = "WORM"


class EntryPointType(StrEnum):
    """The source a task came from."""

    CHECK_ME = "CHECK_ME"
    DPI = "DPI"
    FILE_INBOX = "FILE_INBOX"
    FILE_MONITOR = "FILE_MONITOR"
    ICAP = "ICAP"
    INTERACTIVE_ANALYSIS = "INTERACTIVE_ANALYSIS"
    MAIL_AGENT = "MAIL_AGENT"
    MAIL_AGENT_MTA = "MAIL_AGENT_MTA"
    MAIL_BCC = "MAIL_BCC"
    MAIL_GATEWAY = "MAIL_GATEWAY"
    MAIL_GATEWAY_MTA = "MAIL_GATEWAY_MTA"
    PTNAD = "PTNAD"
    PT_CS = "PT_CS"
    PT_EDR = "PT_EDR"
    PUBLIC_API = "PUBLIC_API"
    RETRO = "RETRO"
    SCAN_API = "SCAN_API"
    UNKNOWN = "UNKNOWN"
    WEB = "WEB"


class EntryPointStatus(StrEnum):
    """Whether the entry point processed the object."""

    UNKNOWN = "UNKNOWN"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"


class EntryPointAction(StrEnum):
    """What the entry point did with the object."""

    BLOCK = "BLOCK"
    NOTHING = "NOTHING"
    PASS = "PASS"
    UNKNOWN = "UNKNOWN"


class QuarantineState(StrEnum):
    """Quarantine state of a task's object."""

    UNKNOWN = "UNKNOWN"
    QUARANTINED = "QUARANTINED"
    REMOVED = "REMOVED"


class QuarantineEventType(StrEnum):
    """Kind of a quarantine event."""

    QUARANTINE = "QUARANTINE"
    REMOVE = "REMOVE"
    SEND = "SEND"


class FileInfoType(StrEnum):
    """Type of a scanned object (``objectType``, ``info.type``)."""

    ARCHIVE = "ARCHIVE"
    COMPRESSED_FILE = "COMPRESSED_FILE"
    EMAIL = "EMAIL"
    EMAIL_BODY = "EMAIL_BODY"
    FILE = "FILE"
    FOLDER = "FOLDER"
    HTTP = "HTTP"
    SANDBOX_AMSI = "SANDBOX_AMSI"
    SANDBOX_DEX_DUMP = "SANDBOX_DEX_DUMP"
    SANDBOX_DROP = "SANDBOX_DROP"
    SANDBOX_MEMORY_DUMP = "SANDBOX_MEMORY_DUMP"
    SANDBOX_NETWORK_DROP = "SANDBOX_NETWORK_DROP"
    SANDBOX_PROCESS_MEMORY_DUMP = "SANDBOX_PROCESS_MEMORY_DUMP"
    URL = "URL"


class TreeEngineName(StrEnum):
    """Engines that appear in an artifact tree (lower case on the wire)."""

    BITDEFENDER = "bitdefender"
    CLAMAV = "clamav"
    DRWEB = "drweb"
    KASPERSKY = "kaspersky"
    NANO = "nano"
    PTAV = "ptav"
    PTESC = "ptesc"
    PTIOC = "ptioc"
    PTCATEGORIZER = "ptcategorizer"
    PT_SANDBOX_OVERALL = "pt_sandbox_overall"
    RULE_ENGINE = "rule_engine"
    VBA = "vba"
    YARA_ENGINE = "yara_engine"
    YARA_ENGINE_TEST = "yara_engine_test"


class TreeNodeType(StrEnum):
    """Kind of an artifact-tree node."""

    ARTIFACT = "ARTIFACT"
    SANDBOX = "SANDBOX"
    SANDBOX_STAGE = "SANDBOX_STAGE"


class ScanArtifactType(StrEnum):
    """Kind of a file the sandbox produced while analysing a node."""

    SANDBOX_CORRELATED_EVENT = "SANDBOX_CORRELATED_EVENT"
    SANDBOX_DEBUG_FILE = "SANDBOX_DEBUG_FILE"
    EMAIL_HEADERS_PTESC = "EMAIL_HEADERS_PTESC"
    SANDBOX_GRAPH = "SANDBOX_GRAPH"
    SANDBOX_NORMALIZED_EVENT = "SANDBOX_NORMALIZED_EVENT"
    SANDBOX_NETWORK_FILE = "SANDBOX_NETWORK_FILE"
    SANDBOX_RAW_EVENT_FILE = "SANDBOX_RAW_EVENT_FILE"
    SANDBOX_VIDEO = "SANDBOX_VIDEO"


class SortMode(StrEnum):
    """Order of artifact-tree nodes: dangerous first, or alphabetical."""

    DANGEROUS = "DANGEROUS"
    ALPHABETICAL = "ALPHABETICAL"


class TaskCsvColumn(StrEnum):
    """Columns the tasks CSV export knows."""

    ACTION = "action"
    BEHAVIORAL_ANALYSIS = "behavioralAnalysis"
    FROM_TO = "fromTo"
    PRIORITY = "priority"
    PROCESSED_TIME = "processedTime"
    QUARANTINE = "quarantine"
    SOURCE = "source"
    STATUS = "status"
    TASK_NAME = "taskName"
    TIME = "time"
    VERDICT = "verdict"
    VERDICT_TIME = "verdictTime"


class ArtifactType(StrEnum):
    """Kind of an artifact in a public-API report."""

    AMSI = "AMSI"
    ARCHIVE = "ARCHIVE"
    COMPRESSED = "COMPRESSED"
    DEX_DUMP = "DEX_DUMP"
    EMAIL = "EMAIL"
    FILE = "FILE"
    NETWORK_DROP = "NETWORK_DROP"
    PROCESS_DUMP = "PROCESS_DUMP"
    URL = "URL"


class EngineSubsystem(StrEnum):
    """Subsystem of an engine in a public-API report."""

    AV = "AV"
    SANDBOX = "SANDBOX"
    STATIC = "STATIC"


class LogType(StrEnum):
    """Kind of a sandbox log file in a public-API report."""

    NETWORK = "NETWORK"
    SCREENSHOT = "SCREENSHOT"
    EVENT_RAW = "EVENT_RAW"
    EVENT_CORRELATED = "EVENT_CORRELATED"
    EVENT_NORMALIZED = "EVENT_NORMALIZED"
    DEBUG = "DEBUG"
    GRAPH = "GRAPH"


class NetworkObjectType(StrEnum):
    """Kind of a network indicator."""

    URL = "URL"
    IP = "IP"
    DOMAIN = "DOMAIN"


class BlacklistStatus(StrEnum):
    """Black/white-list status of an object."""

    IN_BLACK_LIST = "IN_BLACK_LIST"
    IN_WHITE_LIST = "IN_WHITE_LIST"
    NOT_IN_LISTS = "NOT_IN_LISTS"
    UNKNOWN = "UNKNOWN"


class SandboxImageType(StrEnum):
    """Origin of a sandbox VM image."""

    BASE = "base"
    CUSTOM = "custom"
    USER = "user"


SoftVerdict = Annotated[Verdict | str, BeforeValidator(soft_enum(Verdict))]
SoftScanState = Annotated[ScanState | str, BeforeValidator(soft_enum(ScanState))]
SoftThreatPlatform = Annotated[ThreatPlatform | str, BeforeValidator(soft_enum(ThreatPlatform))]
SoftThreatClassification = Annotated[ThreatClassification | str, BeforeValidator(soft_enum(ThreatClassification))]
SoftEntryPointType = Annotated[EntryPointType | str, BeforeValidator(soft_enum(EntryPointType))]
SoftEntryPointStatus = Annotated[EntryPointStatus | str, BeforeValidator(soft_enum(EntryPointStatus))]
SoftEntryPointAction = Annotated[EntryPointAction | str, BeforeValidator(soft_enum(EntryPointAction))]
SoftQuarantineState = Annotated[QuarantineState | str, BeforeValidator(soft_enum(QuarantineState))]
SoftQuarantineEventType = Annotated[QuarantineEventType | str, BeforeValidator(soft_enum(QuarantineEventType))]
SoftFileInfoType = Annotated[FileInfoType | str, BeforeValidator(soft_enum(FileInfoType))]
SoftTreeEngineName = Annotated[TreeEngineName | str, BeforeValidator(soft_enum(TreeEngineName))]
SoftTreeNodeType = Annotated[TreeNodeType | str, BeforeValidator(soft_enum(TreeNodeType))]
SoftScanArtifactType = Annotated[ScanArtifactType | str, BeforeValidator(soft_enum(ScanArtifactType))]
SoftArtifactType = Annotated[ArtifactType | str, BeforeValidator(soft_enum(ArtifactType))]
SoftEngineSubsystem = Annotated[EngineSubsystem | str, BeforeValidator(soft_enum(EngineSubsystem))]
SoftLogType = Annotated[LogType | str, BeforeValidator(soft_enum(LogType))]
SoftNetworkObjectType = Annotated[NetworkObjectType | str, BeforeValidator(soft_enum(NetworkObjectType))]
SoftBlacklistStatus = Annotated[BlacklistStatus | str, BeforeValidator(soft_enum(BlacklistStatus))]
SoftSandboxImageType = Annotated[SandboxImageType | str, BeforeValidator(soft_enum(SandboxImageType))]
