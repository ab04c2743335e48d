"""The small, documented SQL subset the TileDB lab answers, over a few seeded security tables.

TileDB Cloud runs MariaDB over TileDB arrays; the lab does not. It interprets:

* ``SELECT <*|col [AS alias], ...|COUNT(*) [AS name]> FROM <table>
  [WHERE <col> <op> <literal> [AND ...]] [ORDER BY <col> [ASC|DESC]] [LIMIT <n>]``, where ``op`` is
  ``= != <> < <= > >= LIKE IN (...)``, strings compare case-insensitively as in MariaDB's default
  collation, and ``<table>`` is a name, optionally back-quoted or as ``tiledb://<namespace>/<name>``;
* ``SELECT <literal> [AS name], ...`` without ``FROM`` (e.g. ``select 1 as x``);
* ``?`` placeholders bound from ``parameters``, in order;
* statements that return no rows (``CREATE``, ``INSERT``, ``UPDATE``, ``DELETE``, ``DROP``, ``SET``,
  ``USE``, ``ALTER``, ``TRUNCATE``): accepted, nothing changes, no rows (``204``);
* ``raise_error('message')`` anywhere: the query fails with that message (to exercise ``FAILED``).

An unknown table or column fails like MariaDB. Any other statement is not interpreted: it
succeeds with the fixed row set :data:`UNINTERPRETED_ROWS`, which says so.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

Row = dict[str, Any]

UNINTERPRETED_ROWS: list[Row] = [
    {
        "lab_note": "query not interpreted by the TileDB lab emulator",
        "supported": "SELECT cols|COUNT(*) FROM table [WHERE ... AND ...] [ORDER BY col] [LIMIT n]; SELECT literals",
    }
]
"""What a statement outside the subset returns."""

_NO_ROWS = re.compile(r"^\s*(create|insert|update|delete|drop|set|use|alter|truncate)\b", re.I)
_RAISE = re.compile(r"\braise_error\s*\(\s*'((?:[^']|'')*)'\s*\)", re.I)
_LITERAL = r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?|null|true|false"
_SELECT = re.compile(
    r"^\s*select\s+(?P<cols>.+?)\s+from\s+(?P<table>`[^`]+`|[\w./:-]+)"
    r"(?:\s+where\s+(?P<where>.+?))?"
    r"(?:\s+order\s+by\s+(?P<order>`?\w+`?)(?:\s+(?P<dir>asc|desc))?)?"
    r"(?:\s+limit\s+(?P<limit>\d+))?\s*;?\s*$",
    re.I | re.S,
)
_CONDITION = re.compile(
    rf"(?P<col>`?\w+`?)\s*(?P<op>=|!=|<>|<=|>=|<|>|\blike\b|\bin\b)\s*"
    rf"(?P<val>{_LITERAL}|\(\s*(?:{_LITERAL})(?:\s*,\s*(?:{_LITERAL}))*\s*\))",
    re.I | re.S,
)
_LITERAL_SELECT = re.compile(
    rf"^\s*select\s+(?P<items>(?:{_LITERAL})(?:\s+as\s+`?\w+`?)?(?:\s*,\s*(?:{_LITERAL})(?:\s+as\s+`?\w+`?)?)*)\s*;?\s*$",
    re.I | re.S,
)
_LITERAL_ITEM = re.compile(rf"(?P<lit>{_LITERAL})(?:\s+as\s+`?(?P<alias>\w+)`?)?", re.I)
_COLUMN = re.compile(r"^(?:`?(?P<col>\w+)`?|(?P<count>count\s*\(\s*\*\s*\)))(?:\s+as\s+`?(?P<alias>\w+)`?)?$", re.I)


class SQLError(Exception):
    """The query failed; the message is what TileDB Cloud would report."""


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered == "null":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return float(text) if "." in text else int(text)


def _quote(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def bind(query: str, parameters: list[Any]) -> str:
    """Replace each ``?`` outside string literals with the next parameter, quoted."""
    out: list[str] = []
    remaining = list(parameters)
    in_string = False
    for char in query:
        if char == "'":
            in_string = not in_string
        if char == "?" and not in_string:
            if not remaining:
                raise SQLError("Incorrect arguments to mysqld_stmt_execute: more placeholders than parameters")
            out.append(_quote(remaining.pop(0)))
        else:
            out.append(char)
    if remaining:
        raise SQLError("Incorrect arguments to mysqld_stmt_execute: more parameters than placeholders")
    return "".join(out)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "in":
        return any(_compare(left, "=", item) for item in right)
    if left is None or right is None:
        return False
    if op == "like":
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in str(right))
        return re.fullmatch(pattern, str(left), re.I | re.S) is not None
    if isinstance(left, str) or isinstance(right, str):
        left, right = str(left).lower(), str(right).lower()
    ops = {
        "=": left == right, "!=": left != right, "<>": left != right,
        "<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right,
    }
    return ops[op]


def _seed_tables() -> dict[str, list[Row]]:
    rng = random.Random(20250303)
    hosts = [
        {"hostname": "ws-fin-01", "ip": "10.0.1.11", "os": "Windows 11", "owner": "alice", "criticality": "high"},
        {"hostname": "ws-fin-02", "ip": "10.0.1.12", "os": "Windows 11", "owner": "bob", "criticality": "high"},
        {"hostname": "ws-hr-01", "ip": "10.0.2.21", "os": "Windows 10", "owner": "carol", "criticality": "medium"},
        {"hostname": "srv-dc-01", "ip": "10.0.0.5", "os": "Windows Server 2022", "owner": "it-ops",
         "criticality": "critical"},
        {"hostname": "srv-web-01", "ip": "10.0.3.10", "os": "Ubuntu 22.04", "owner": "web-team", "criticality": "high"},
        {"hostname": "srv-db-01", "ip": "10.0.3.20", "os": "RHEL 9", "owner": "dba-team", "criticality": "critical"},
        {"hostname": "lt-dev-07", "ip": "10.0.4.37", "os": "macOS 14", "owner": "dave", "criticality": "low"},
        {"hostname": "lt-sales-03", "ip": "10.0.5.23", "os": "Windows 11", "owner": "erin", "criticality": "low"},
    ]
    kinds = [
        ("login_failure", "medium", "blocked", "T1110"),
        ("login_success", "low", "allowed", None),
        ("malware_detected", "critical", "quarantined", "T1204"),
        ("process_start", "low", "allowed", None),
        ("dns_query", "low", "allowed", None),
        ("firewall_block", "medium", "blocked", "T1071"),
        ("privilege_escalation", "high", "alerted", "T1068"),
        ("data_exfiltration", "critical", "blocked", "T1041"),
    ]
    users = ["alice", "bob", "carol", "dave", "erin", "svc-backup", "administrator"]
    base = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    events: list[Row] = []
    for index in range(60):
        host = hosts[rng.randrange(len(hosts))]
        kind, severity, action, technique = kinds[rng.randrange(len(kinds))]
        when = base + timedelta(minutes=7 * index + rng.randrange(5))
        events.append({
            "event_id": 1001 + index,
            "event_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "host": host["hostname"],
            "user_name": rng.choice(users),
            "event_type": kind,
            "severity": severity,
            "src_ip": host["ip"],
            "dst_ip": f"{rng.choice(['203.0.113', '198.51.100', '192.0.2'])}.{rng.randrange(1, 255)}",
            "action": action,
            "mitre_technique": technique,
        })
    iocs = [
        {"indicator": "203.0.113.66", "type": "ip", "confidence": 90, "source": "ThreatConnect", "tlp": "amber"},
        {"indicator": "198.51.100.23", "type": "ip", "confidence": 70, "source": "abuse.ch", "tlp": "white"},
        {"indicator": "evil-updates.example", "type": "domain", "confidence": 85, "source": "ThreatConnect",
         "tlp": "amber"},
        {"indicator": "cdn-payload.example", "type": "domain", "confidence": 60, "source": "OSINT", "tlp": "white"},
        {"indicator": "44d88612fea8a8f36de82e1278abb02f", "type": "md5", "confidence": 100, "source": "PT Sandbox",
         "tlp": "green"},
        {"indicator": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "type": "sha256",
         "confidence": 40, "source": "OSINT", "tlp": "white"},
        {"indicator": "192.0.2.200", "type": "ip", "confidence": 95, "source": "PT Sandbox", "tlp": "red"},
        {"indicator": "http://evil-updates.example/kb5031.exe", "type": "url", "confidence": 88,
         "source": "ThreatConnect", "tlp": "amber"},
    ]
    return {"security_events": events, "hosts": hosts, "iocs": iocs}


class LabSQL:
    """Executes the lab's SQL subset over its seeded tables (``security_events``, ``hosts``, ``iocs``)."""

    def __init__(self) -> None:
        self.tables = _seed_tables()

    def execute(self, query: str, parameters: list[Any] | None = None, *, namespace: str = "") -> list[Row] | None:
        """Run one statement.

        Args:
            query: The SQL text.
            parameters: Values for the ``?`` placeholders.
            namespace: The namespace it runs under (used in error messages).

        Returns:
            The rows, or ``None`` for a statement that returns none.

        Raises:
            SQLError: The query fails (``raise_error``, unknown table or column, parameter count).
        """
        failure = _RAISE.search(query)
        if failure:
            raise SQLError(failure.group(1).replace("''", "'"))
        query = bind(query, parameters or [])
        if _NO_ROWS.match(query):
            return None
        literal = _LITERAL_SELECT.match(query)
        if literal:
            row: Row = {}
            for item in _LITERAL_ITEM.finditer(literal.group("items")):
                row[item.group("alias") or item.group("lit")] = _literal(item.group("lit"))
            return [row]
        select = _SELECT.match(query)
        if not select:
            return [dict(r) for r in UNINTERPRETED_ROWS]
        return self._select(select, namespace)

    def _select(self, match: re.Match[str], namespace: str) -> list[Row] | None:
        name = match.group("table").strip("`")
        name = re.sub(r"^tiledb://[^/]+/", "", name)
        if name not in self.tables:
            raise SQLError(f"Table '{namespace or 'lab'}.{name}' doesn't exist")
        rows = self.tables[name]
        columns = list(rows[0]) if rows else []
        where = match.group("where")
        if where:
            conditions = self._conditions(where)
            if conditions is None:
                return [dict(r) for r in UNINTERPRETED_ROWS]
            for column, _, _ in conditions:
                if column not in columns:
                    raise SQLError(f"Unknown column '{column}' in 'where clause'")
            rows = [r for r in rows if all(_compare(r[c], op, v) for c, op, v in conditions)]
        order = match.group("order")
        if order:
            key = order.strip("`")
            if key not in columns:
                raise SQLError(f"Unknown column '{key}' in 'order clause'")
            descending = (match.group("dir") or "asc").lower() == "desc"
            present = [r for r in rows if r[key] is not None]
            missing = [r for r in rows if r[key] is None]
            rows = sorted(present, key=lambda r: r[key], reverse=descending) + missing
        projected = self._project(match.group("cols"), columns, rows)
        if match.group("limit") is not None:
            projected = projected[: int(match.group("limit"))]
        return projected

    @staticmethod
    def _conditions(where: str) -> list[tuple[str, str, Any]] | None:
        parts = re.split(r"\s+and\s+", where.strip(), flags=re.I)
        conditions: list[tuple[str, str, Any]] = []
        for part in parts:
            found = _CONDITION.fullmatch(part.strip())
            if not found:
                return None
            raw = found.group("val")
            value: Any
            if raw.startswith("("):
                value = [_literal(item.group(0)) for item in re.finditer(_LITERAL, raw[1:-1], re.I)]
            else:
                value = _literal(raw)
            conditions.append((found.group("col").strip("`"), found.group("op").lower(), value))
        return conditions

    @staticmethod
    def _project(select_list: str, columns: list[str], rows: list[Row]) -> list[Row]:
        text = select_list.strip()
        if text == "*":
            return [dict(r) for r in rows]
        picks: list[tuple[str | None, str]] = []
        for item in (part.strip() for part in text.split(",")):
            found = _COLUMN.match(item)
            if not found:
                raise SQLError(f"You have an error in your SQL syntax near '{item}'")
            if found.group("count"):
                picks.append((None, found.group("alias") or "COUNT(*)"))
                continue
            column = found.group("col")
            if column not in columns:
                raise SQLError(f"Unknown column '{column}' in 'field list'")
            picks.append((column, found.group("alias") or column))
        if any(column is None for column, _ in picks):
            return [{alias: len(rows) if column is None else (rows[0][column] if rows else None)
                     for column, alias in picks}]
        return [{alias: r[column] for column, alias in picks if column is not None} for r in rows]


__all__ = ["UNINTERPRETED_ROWS", "LabSQL", "SQLError", "bind"]
