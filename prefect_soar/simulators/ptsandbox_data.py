"""The PT Sandbox lab's deterministic data set: settings, enums, task rows, their JSON and CSV cells.

Everything derives from ``(settings.seed, task index)``: the same seed gives the same task
ids, names, verdicts (and, in :mod:`.ptsandbox_tree`, trees and file bytes) on every run. Rows
are small slotted objects generated in one cheap pass; the task JSON is built only when asked
for, so a lab of 100,000 tasks starts fast.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_soar.simulators.ptsandbox_ql import OrderItem, QLField

# ---------------------------------------------------------------------------------------------
# Settings and enums
# ---------------------------------------------------------------------------------------------

DEFAULT_API_KEY = "lab-ptsandbox-api-key"
DEFAULT_LOGIN = "soc-analyst"
DEFAULT_PASSWORD = "lab-password"
ARCHIVE_PASSWORD = b"infected"
VERSION = "5.11.0.12345"
DAY = 86400.0


class PTSandboxLabSettings(BaseModel):
    """Settings of the PT Sandbox emulator.

    Attributes:
        task_count: Number of seeded tasks in the UI listing.
        seed: Seed of the data set (ids, names, verdicts, trees, file bytes).
        token_lifetime_seconds: Lifetime of UI access tokens (the lab's fault config may override it).
        scan_seconds: How long a public-API scan takes before its state is ``FULL`` (0: at once).
        archive_padding_bytes: When > 0, every task artifact archive gets an extra member
            ``padding.bin`` of that many incompressible bytes (for download benchmarks).
        api_key: Public-API key (``X-Api-Key``) the lab accepts.
        extra_api_keys: More accepted public-API keys; each key sees only its own tasks and files.
        login: UI login the lab's IdP accepts (both ``authType`` 0 = local and 1 = LDAP).
        password: Its password.
        now: Freeze the lab's clock at this instant (data set spread over the 30 days before it,
            ``age`` queries measured from it); ``None``: the real clock.
        upload_ttl_seconds: Lifetime of an uploaded file's ``file_uri``.
        max_upload_bytes: Largest accepted upload (413 beyond).
    """

    model_config = ConfigDict(extra="forbid")

    task_count: int = Field(default=200, ge=0, le=2_000_000)
    seed: int = 20250314
    token_lifetime_seconds: float = Field(default=480.0, gt=0)
    scan_seconds: float = Field(default=1.0, ge=0)
    archive_padding_bytes: int = Field(default=0, ge=0)
    api_key: str = DEFAULT_API_KEY
    extra_api_keys: list[str] = Field(default_factory=list)
    login: str = DEFAULT_LOGIN
    password: str = DEFAULT_PASSWORD
    now: datetime | None = None
    upload_ttl_seconds: int = Field(default=3600, gt=0)
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, gt=0)


VERDICTS = ("CLEAN", "UNWANTED", "DANGEROUS", "UNKNOWN")
VERDICT_RANK = {"CLEAN": 0, "UNKNOWN": 1, "UNWANTED": 2, "DANGEROUS": 3}
SCAN_STATES = ("UNKNOWN", "PARTIAL", "FULL", "UNSCANNED")
OBJECT_TYPES = (
    "ARCHIVE", "COMPRESSED_FILE", "EMAIL", "EMAIL_BODY", "FILE", "FOLDER", "HTTP", "SANDBOX_AMSI", "SANDBOX_DEX_DUMP",
    "SANDBOX_DROP", "SANDBOX_MEMORY_DUMP", "SANDBOX_NETWORK_DROP", "SANDBOX_PROCESS_MEMORY_DUMP", "URL",
)
ENTRY_POINT_TYPES = (
    "CHECK_ME", "DPI", "FILE_INBOX", "FILE_MONITOR", "ICAP", "INTERACTIVE_ANALYSIS", "MAIL_AGENT", "MAIL_AGENT_MTA",
    "MAIL_BCC", "MAIL_GATEWAY", "MAIL_GATEWAY_MTA", "PTNAD", "PT_CS", "PT_EDR", "PUBLIC_API", "RETRO", "SCAN_API",
    "UNKNOWN", "WEB",
)
THREAT_PLATFORMS = ("ANDROID", "IOS", "LINUX", "OSX", "WINDOWS", "NO_PLATFORM")
THREAT_CLASSIFICATIONS = (
    "ADWARE", "BACKDOOR", "BOOTKIT", "BOT", "CLIENT_IRC", "CLIENT_P2P", "CLIENT_SMTP", "CONSTRUCTOR", "DIALER", "DOS",
    "DOWNLOADER", "EMAIL_FLOODER", "EMAIL_WORM", "EXPLOIT", "FLOODER", "FRAUDTOOL", "HACKTOOL", "HOAX", "IM_FLOODER",
    "IM_WORM", "IRC_WORM", "MONITOR", "NETTOOL", "NET_WORM", "P2P_WORM", "PHISHING", "PSWTOOL", "REMOTEADMIN",
    "RISKTOOL", "ROOTKIT", "SERVER_FTP", "SERVER_PROXY", "SERVER_TELNET", "SERVER_WEB", "SMS_FLOODER", "SPAM",
    "SPOOFER", "TROJAN", "TROJAN_ARCBOMB", "TROJAN_ATM", "TROJAN_BANKER", "TROJAN_CLICKER", "TROJAN_DDOS",
    "TROJAN_DOWNLOADER", "TROJAN_DROPPER", "TROJAN_FAKEAV", "TROJAN_GAMETHIEF", "TROJAN_IM", "TROJAN_MAILFINDER",
    "TROJAN_MINER", "TROJAN_NOTIFIER", "TROJAN_POS", "TROJAN_PROXY", "TROJAN_PSW", "TROJAN_RANSOM", "TROJAN_SMS",
    "TROJAN_SPY", "TROJAN_WIPER", "UNKNOWN", "UNKNOWN_THREAT", "VIRTOOL", "VIRUS", "WEBTOOLBAR", "WORM",
)
CSV_COLUMNS = (
    "action", "behavioralAnalysis", "fromTo", "priority", "processedTime", "quarantine", "source", "status",
    "taskName", "time", "verdict", "verdictTime",
)

DANGEROUS_THREATS = {
    "TROJAN_DOWNLOADER": "Trojan-Downloader.Win32.Agent",
    "TROJAN_RANSOM": "Trojan-Ransom.Win32.Lockbit",
    "BACKDOOR": "Backdoor.Win32.Remcos",
    "PHISHING": "Phishing.HTML.Generic",
    "EXPLOIT": "Exploit.MSOffice.CVE-2017-11882",
    "TROJAN_SPY": "Trojan-Spy.Win32.AgentTesla",
    "WORM": "Worm.Win32.Autorun",
    "VIRUS": "Virus.Win32.Sality",
    "TROJAN_BANKER": "Trojan-Banker.Win32.Emotet",
}
UNWANTED_THREATS = {
    "ADWARE": "not-a-virus:AdWare.Win32.Agent",
    "RISKTOOL": "not-a-virus:RiskTool.Win32.BitMiner",
    "HACKTOOL": "HackTool.Win32.Mimikatz",
    "REMOTEADMIN": "not-a-virus:RemoteAdmin.Win32.AnyDesk",
}


@dataclass(frozen=True)
class EntryPointDef:
    """An entry point of the data set (what ``/filter-values`` lists)."""

    id: str
    name: str
    type: str


ENTRY_POINTS = (
    EntryPointDef("public-api", "Public API", "PUBLIC_API"),
    EntryPointDef("web", "Web", "WEB"),
    EntryPointDef("mail-agent", "Mail agent", "MAIL_AGENT"),
    EntryPointDef("icap-proxy", "ICAP proxy", "ICAP"),
    EntryPointDef("check-me", "CheckMe", "CHECK_ME"),
    EntryPointDef("scan-api", "Scan API", "SCAN_API"),
    EntryPointDef("pt-edr", "PT EDR", "PT_EDR"),
    EntryPointDef("file-monitor", "File monitor", "FILE_MONITOR"),
)
PUBLIC_API_ENTRY_POINT = ENTRY_POINTS[0]
_ENTRY_POINT_WEIGHTS = (22, 16, 18, 10, 8, 10, 8, 8)


@dataclass(frozen=True)
class FileKind:
    """File name extension and what the sandbox says about such files."""

    ext: str
    mime: str
    magic: str
    file_type: str
    properties: tuple[str, ...] = ()


FILE_KINDS = (
    FileKind("docm", "application/vnd.ms-word.document.macroEnabled.12", "Microsoft Word 2007+", "office/docm",
             ("OFFICE", "HAS_MACROS")),
    FileKind("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Microsoft Excel 2007+",
             "office/xlsx", ("OFFICE",)),
    FileKind("pdf", "application/pdf", "PDF document, version 1.7", "pdf", ("HAS_JAVASCRIPT",)),
    FileKind("exe", "application/x-dosexec", "PE32+ executable (GUI) x86-64, for MS Windows", "pe/exe",
             ("ARCH_AMD64",)),
    FileKind("dll", "application/x-dosexec", "PE32+ executable (DLL) x86-64, for MS Windows", "pe/dll",
             ("ARCH_AMD64", "UPX")),
    FileKind("js", "application/javascript", "JavaScript source, ASCII text", "script/js", ()),
    FileKind("rtf", "text/rtf", "Rich Text Format data", "office/rtf", ("OFFICE", "HAS_REMOTE_TEMPLATE")),
)
ARCHIVE_KINDS = (
    FileKind("zip", "application/zip", "Zip archive data, at least v2.0 to extract", "archive/zip", ("ARCHIVE",)),
    FileKind("7z", "application/x-7z-compressed", "7-zip archive data, version 0.4", "archive/7z",
             ("ARCHIVE", "ENCRYPTED")),
)
EMAIL_KIND = FileKind("eml", "message/rfc822", "RFC 822 mail, ASCII text", "email/eml", ())
HTML_KIND = FileKind("html", "text/html", "HTML document, UTF-8 Unicode text", "text/html", ("HAS_JAVASCRIPT",))
URL_KIND = FileKind("url", "text/x-uri", "URL", "url", ())
STEMS = ("invoice", "report", "payroll", "contract", "setup", "update", "scan", "statement", "order", "resume",
          "presentation", "agreement", "document", "photo", "salary", "shipment")
CLEAN_HOSTS = ("example.org", "docs.example.com", "intranet.example.net", "news.example.com", "shop.example.org")
BAD_HOSTS = ("evil.example", "login-micros0ft.example", "cdn-malware.example", "update-check.example.net")
_CATEGORIES = ("news", "business", "it", "shopping", "malware", "phishing")
_SUBJECTS = ("Invoice {n} overdue", "Re: contract {n}", "Payroll update {n}", "Your parcel {n}", "Meeting notes {n}")

# ---------------------------------------------------------------------------------------------
# Task rows
# ---------------------------------------------------------------------------------------------


class TaskRow:
    """One task, as compact as the listing needs; the JSON is built on demand.

    Public-API tasks (``owner`` set) also carry their uploaded bytes or URL and change
    ``state`` while they are scanned.
    """

    __slots__ = (
        "category", "content", "created_monotonic", "duration", "entry_point", "file_kind", "final", "id", "index",
        "name", "object_type", "owner", "preflight_sent", "sandbox", "sandbox_state", "start", "state",
        "threat_classification", "threat_level", "threat_name", "threat_platform", "url",
    )

    def __init__(self, **values: Any) -> None:
        self.category = ""
        self.content: bytes | None = None
        self.created_monotonic = 0.0
        self.final: tuple[str, str, str, str] | None = None
        self.owner: str | None = None
        self.preflight_sent = False
        self.url: str | None = None
        for key, value in values.items():
            setattr(self, key, value)

    index: int
    id: str
    name: str
    object_type: str
    start: float
    duration: float
    state: str
    threat_level: str
    threat_classification: str
    threat_platform: str
    threat_name: str
    sandbox: bool
    sandbox_state: str
    entry_point: EntryPointDef
    file_kind: FileKind

    @property
    def entry_point_type(self) -> str:
        """The entry point's type, for QL."""
        return self.entry_point.type

    @property
    def entry_point_id(self) -> str:
        """The entry point's id, for QL."""
        return self.entry_point.id

    @property
    def sandbox_threat_level(self) -> str:
        """The verdict of behavioural analysis alone (``UNKNOWN`` when there was none)."""
        return self.threat_level if self.sandbox and self.sandbox_state == "FULL" else "UNKNOWN"

    @property
    def properties(self) -> tuple[str, ...]:
        """File properties of the task's root object."""
        return self.file_kind.properties


def _weighted_table(weights: tuple[int, ...]) -> list[int]:
    table: list[int] = []
    for position, weight in enumerate(weights):
        table.extend([position] * weight)
    return table


_EP_TABLE = _weighted_table(_ENTRY_POINT_WEIGHTS)
_STATE_TABLE = ["FULL"] * 86 + ["PARTIAL"] * 5 + ["UNSCANNED"] * 3 + ["UNKNOWN"] * 6
_VERDICT_TABLE = ["CLEAN"] * 58 + ["UNWANTED"] * 10 + ["DANGEROUS"] * 22 + ["UNKNOWN"] * 10
_DANGEROUS_KEYS = tuple(DANGEROUS_THREATS)
_UNWANTED_KEYS = tuple(UNWANTED_THREATS)


def generate_rows(settings: PTSandboxLabSettings, anchor: float) -> list[TaskRow]:
    """The seeded tasks, started over the 30 days before ``anchor`` (epoch seconds)."""
    rng = random.Random(f"ptsandbox-lab:{settings.seed}:tasks")
    rows: list[TaskRow] = []
    for index in range(settings.task_count):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        bits = rng.getrandbits(64)
        entry_point = ENTRY_POINTS[_EP_TABLE[bits % len(_EP_TABLE)]]
        bits //= len(_EP_TABLE)
        state = _STATE_TABLE[bits % 100]
        bits //= 100
        verdict = _VERDICT_TABLE[bits % 100] if state in ("FULL", "PARTIAL") else "UNKNOWN"
        bits //= 100
        number = 1000 + bits % 9000
        bits //= 9000
        pick = bits % 1000
        bits //= 1000
        if entry_point.type in ("MAIL_AGENT", "CHECK_ME"):
            object_type, kind = "EMAIL", EMAIL_KIND
            name = _SUBJECTS[pick % len(_SUBJECTS)].format(n=number)
        elif entry_point.type in ("WEB", "ICAP") and pick % 2 == 0:
            object_type, kind = "URL", URL_KIND
            hosts = BAD_HOSTS if verdict in ("DANGEROUS", "UNWANTED") else CLEAN_HOSTS
            name = f"https://{hosts[pick % len(hosts)]}/{STEMS[pick % len(STEMS)]}/{number}"
        elif pick % 5 == 0:
            object_type, kind = "ARCHIVE", ARCHIVE_KINDS[pick % len(ARCHIVE_KINDS)]
            name = f"{STEMS[(pick // 5) % len(STEMS)]}_{number}.{kind.ext}"
        else:
            object_type, kind = "FILE", FILE_KINDS[pick % len(FILE_KINDS)]
            name = f"{STEMS[(pick // 7) % len(STEMS)]}_{number}.{kind.ext}"
        if verdict == "DANGEROUS":
            classification = _DANGEROUS_KEYS[bits % len(_DANGEROUS_KEYS)]
            if object_type == "URL":
                classification = "PHISHING"
            threat = DANGEROUS_THREATS[classification]
        elif verdict == "UNWANTED":
            classification = _UNWANTED_KEYS[bits % len(_UNWANTED_KEYS)]
            threat = UNWANTED_THREATS[classification]
        else:
            classification, threat = "UNKNOWN", ""
        bits //= 16
        platform = "WINDOWS" if verdict in ("DANGEROUS", "UNWANTED") and classification != "PHISHING" else "NO_PLATFORM"
        sandbox = state != "UNKNOWN" and bits % 10 < 7
        bits //= 10
        age = (rng.getrandbits(32) % 2_592_000_000) / 1000.0  # up to 30 days, millisecond resolution
        category = ""
        if object_type == "URL":
            category = "phishing" if verdict == "DANGEROUS" else _CATEGORIES[pick % 4]
        rows.append(TaskRow(
            index=index, id=task_id, name=name, object_type=object_type, start=round(anchor - age, 3),
            duration=float(5 + pick % 290), state=state, threat_level=verdict, threat_classification=classification,
            threat_platform=platform, threat_name=threat, sandbox=sandbox,
            sandbox_state=state if sandbox else "UNKNOWN", entry_point=entry_point, file_kind=kind, category=category,
        ))
    return rows


# ---------------------------------------------------------------------------------------------
# QL fields
# ---------------------------------------------------------------------------------------------


def enum_field(name: str, getter: Any, values: tuple[str, ...], rank: dict[str, int] | None = None) -> QLField:
    return QLField(name, "enum", getter, frozenset(values), rank or {})


def alias_table(*specs: tuple[tuple[str, ...], QLField]) -> dict[str, QLField]:
    table: dict[str, QLField] = {}
    for names, spec in specs:
        for alias in names:
            table[alias.lower()] = spec
    return table


_VERDICT_FIELD = enum_field("verdict", lambda r: r.threat_level, VERDICTS, VERDICT_RANK)
TASK_FIELDS = alias_table(
    (("age",), QLField("age", "duration", lambda r: r.start)),
    (("start", "startTime", "time"), QLField("start", "datetime", lambda r: r.start)),
    (("verdict", "threatLevel", "task.correlated.threatLevel", "correlation.threatLevel"), _VERDICT_FIELD),
    (("state", "task.correlated.state", "correlation.state", "status"),
     enum_field("task.correlated.state", lambda r: r.state, SCAN_STATES)),
    (("sandbox.state", "task.sandbox.correlated.state", "sandboxCorrelation.state"),
     enum_field("task.sandbox.correlated.state", lambda r: r.sandbox_state, SCAN_STATES)),
    (("task.sandbox.correlated.threatLevel", "sandbox.threatLevel"),
     enum_field("task.sandbox.correlated.threatLevel", lambda r: r.sandbox_threat_level, VERDICTS, VERDICT_RANK)),
    (("threatClassification", "task.correlated.threatClassification"),
     enum_field("threatClassification", lambda r: r.threat_classification, THREAT_CLASSIFICATIONS)),
    (("threatPlatform", "task.correlated.threatPlatform"),
     enum_field("threatPlatform", lambda r: r.threat_platform, THREAT_PLATFORMS)),
    (("entryPoint.type", "entryPointType", "source"),
     enum_field("entryPoint.type", lambda r: r.entry_point.type, ENTRY_POINT_TYPES)),
    (("entryPoint.id", "entryPointId"), QLField("entryPoint.id", "text", lambda r: r.entry_point.id)),
    (("objectType", "type"), enum_field("objectType", lambda r: r.object_type, OBJECT_TYPES)),
    (("name", "taskName"), QLField("name", "text", lambda r: r.name)),
    (("id", "scanId", "task.id"), QLField("id", "text", lambda r: r.id)),
    (("duration",), QLField("duration", "number", lambda r: r.duration)),
)
DEFAULT_TASK_ORDER = (OrderItem("start", descending=True),)

# ---------------------------------------------------------------------------------------------
# Task JSON (UI, camelCase)
# ---------------------------------------------------------------------------------------------


def iso(epoch: float, utc_offset_seconds: int = 0) -> str:
    """Epoch seconds -> ISO 8601 with milliseconds (``Z`` for UTC)."""
    tz = timezone(timedelta(seconds=utc_offset_seconds))
    text = datetime.fromtimestamp(epoch, tz).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def row_rng(seed: int, row: TaskRow, purpose: str) -> random.Random:
    return random.Random(f"ptsandbox-lab:{seed}:{row.id}:{purpose}")


def correlation(state: str, verdict: str, classification: str, platform: str, priority: bool = True) -> dict[str, Any]:
    """A ``CorrelationInfo`` object."""
    info: dict[str, Any] = {
        "state": state,
        "threatClassification": classification,
        "threatLevel": verdict,
        "threatPlatform": platform,
    }
    if priority:
        info["verdictPriority"] = {"DANGEROUS": 90, "UNWANTED": 60, "UNKNOWN": 30, "CLEAN": 10}[verdict]
    return info


@dataclass(frozen=True)
class TaskExtras:
    """Per-task details that only the JSON and the CSV need."""

    client_ip: str
    status: str
    action: str
    quarantine: str
    priority: int
    sender: str
    recipient: str
    user_agent: str


_SENDERS = ("billing", "hr", "no-reply", "ceo")
_RECIPIENTS = ("alice", "bob", "carol", "dave")
_USER_AGENTS = ("python-httpx/0.27", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "curl/8.5.0")


def task_extras(seed: int, row: TaskRow) -> TaskExtras:
    """The deterministic details of a task (client IP, action, quarantine, ...).

    They come from the bits of the task id (itself drawn from the seed), which is much
    cheaper than a random generator per task when a page of hundreds is serialized.
    """
    bits = int(row.id.replace("-", ""), 16) ^ (seed * 0x9E3779B97F4A7C15)
    blocking = row.entry_point.type in ("MAIL_AGENT", "ICAP", "CHECK_ME") and row.threat_level == "DANGEROUS"
    hosts = BAD_HOSTS + CLEAN_HOSTS
    return TaskExtras(
        client_ip=f"10.{bits & 0xFF}.{(bits >> 8) & 0xFF}.{1 + (bits >> 16) % 254}",
        status="FAIL" if row.state == "UNKNOWN" else "SUCCESS",
        action="BLOCK" if blocking else ("PASS" if row.entry_point.type in ("ICAP", "MAIL_AGENT") else "NOTHING"),
        quarantine="QUARANTINED" if blocking else "UNKNOWN",
        priority=(2, 3, 3, 4)[(bits >> 24) % 4],
        sender=f"{_SENDERS[(bits >> 26) % 4]}@{hosts[(bits >> 28) % len(hosts)]}",
        recipient=f"{_RECIPIENTS[(bits >> 36) % 4]}@corp.example",
        user_agent=_USER_AGENTS[(bits >> 40) % 3],
    )


def task_json(seed: int, row: TaskRow, *, with_events: bool = False) -> dict[str, Any]:
    """The UI ``Task`` object of a row."""
    extras = task_extras(seed, row)
    processed = row.start + row.duration
    quarantine: dict[str, Any] = {"state": extras.quarantine}
    if with_events:
        quarantine["events"] = (
            [{"type": "QUARANTINE", "time": int(processed)}] if extras.quarantine == "QUARANTINED" else []
        )
    entry_point: dict[str, Any] = {
        "id": row.entry_point.id,
        "type": row.entry_point.type,
        "status": extras.status,
        "action": extras.action,
        "quarantine": quarantine,
        "clientIp": extras.client_ip,
    }
    source = {"userAgent": extras.user_agent, "xForwardedFor": "", "referer": ""}
    block = {"PUBLIC_API": "publicApi", "SCAN_API": "scanApi", "PT_EDR": "ptEdr", "PT_CS": "ptCs"}.get(
        row.entry_point.type
    )
    if block:
        entry_point[block] = source
    elif row.entry_point.type in ("WEB", "INTERACTIVE_ANALYSIS"):
        entry_point["web" if row.entry_point.type == "WEB" else "interactiveAnalysis"] = {
            **source, "userId": "1", "userLogin": "admin", "userName": "Administrator", "userIsAnonymous": False,
        }
    task: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "objectType": row.object_type,
        "start": iso(row.start),
        "correlation": correlation(row.state, row.threat_level, row.threat_classification, row.threat_platform),
        "entryPoint": entry_point,
        "startTime": row.start,
        "processedTime": round(processed, 3),
        "verdictTime": round(processed - 0.3, 3),
    }
    if row.sandbox:
        task["sandboxCorrelation"] = correlation(
            row.sandbox_state, row.sandbox_threat_level,
            row.threat_classification if row.sandbox_threat_level != "UNKNOWN" else "UNKNOWN",
            row.threat_platform if row.sandbox_threat_level != "UNKNOWN" else "NO_PLATFORM", priority=False,
        )
    return task


def csv_value(seed: int, row: TaskRow, column: str, utc_offset_seconds: int) -> str:
    """One cell of the task CSV export."""
    extras = task_extras(seed, row)
    processed = row.start + row.duration
    values = {
        "action": extras.action,
        "behavioralAnalysis": "true" if row.sandbox else "false",
        "fromTo": f"{extras.sender} -> {extras.recipient}" if row.object_type == "EMAIL" else extras.client_ip,
        "priority": str(extras.priority),
        "processedTime": iso(processed, utc_offset_seconds),
        "quarantine": extras.quarantine,
        "source": row.entry_point.name,
        "status": row.state,
        "taskName": row.name,
        "time": iso(row.start, utc_offset_seconds),
        "verdict": row.threat_level,
        "verdictTime": iso(processed - 0.3, utc_offset_seconds),
    }
    return values[column]


def public_list_item(row: TaskRow) -> dict[str, Any]:
    """A public ``listTasks`` item (snake_case)."""
    item: dict[str, Any] = {
        "id": row.id,
        "name": row.name,
        "entry_point_id": row.entry_point.id,
        "entry_point_type": row.entry_point.type,
        "start_time": row.start,
        "scan_state": row.state,
        "duration": row.duration,
        "duration_full": round(row.duration + 1.8, 3),
    }
    if row.state == "FULL":
        item["verdict"] = row.threat_level
        if row.threat_name:
            item["threat"] = row.threat_name
    return item

def filter_values(rows: list[TaskRow]) -> dict[str, Any]:
    """``/v2/tasks/filter-values`` of a set of rows."""
    entry_points: dict[str, EntryPointDef] = {}
    classifications: set[str] = set()
    properties: set[str] = set()
    categories: set[str] = set()
    for row in rows:
        entry_points.setdefault(row.entry_point.id, row.entry_point)
        if row.threat_classification != "UNKNOWN":
            classifications.add(row.threat_classification)
        properties.update(row.file_kind.properties)
        if row.category:
            categories.add(row.category)
    return {
        "entryPoints": [{"name": ep.name, "id": ep.id, "type": ep.type} for ep in entry_points.values()],
        "threatClassifications": sorted(classifications),
        "properties": sorted(properties),
        "categories": sorted(categories),
    }
