"""Secrets never leak: sentinel secrets in every block, every flow run at DEBUG, then a search everywhere.

The lab accepts distinct sentinel secrets (PT Sandbox API key and UI password, ThreatConnect HMAC
secret key and API token, Acronis client secret, TileDB API key and password); a second set of
sentinels, the wrong secrets, goes into blocks that fail (the runs end in AuthenticationError).
Every flow of the pack runs once with good blocks and once with a wrong secret, with Prefect, the
pack, httpx and httpcore logging at DEBUG. Then no sentinel (nor the Basic-auth encodings of
the pairs they are sent in) may appear in: the captured log records (with tracebacks), the run
logs, artifacts, events, flow runs (parameters, state messages), task runs and variables stored
by Prefect, the block documents as the API lists them, the Prefect server's database files, the
local result storage, the flows' results and the exceptions (text, fields and chained
tracebacks). Blocks and clients must show secrets masked in ``repr``, ``model_dump`` and ``dict``.
"""

from __future__ import annotations

import base64
import logging
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.client.orchestration import PrefectClient
from prefect.events import emit_event
from prefect.settings import PREFECT_LOGGING_LEVEL, temporary_settings
from prefect.states import State
from pydantic import SecretStr

from prefect_soar.blocks._base import ServiceCredentials
from prefect_soar.blocks.acronis import AcronisCredentials
from prefect_soar.blocks.ptsandbox import PTSandboxCredentials
from prefect_soar.blocks.threatconnect import ThreatConnectCredentials
from prefect_soar.blocks.tiledb import TileDBCredentials
from prefect_soar.errors import AuthenticationError
from prefect_soar.flows.acronis_failures import acronis_failures_to_threatconnect
from prefect_soar.flows.detonate import detonate_and_report
from prefect_soar.flows.escalate import escalate_detection
from prefect_soar.flows.healthcheck import healthcheck
from prefect_soar.flows.sandbox_triage import sandbox_triage
from prefect_soar.flows.tiledb_audit import tiledb_failed_tasks_to_threatconnect
from prefect_soar.flows.tiledb_report import tiledb_sql_report
from prefect_soar.simulators.acronis import LAB_CREDENTIALS as ACRONIS_LAB
from prefect_soar.simulators.acronis import AcronisLabSettings
from prefect_soar.simulators.lab import Lab
from prefect_soar.simulators.ptsandbox import LAB_CREDENTIALS as PT_LAB
from prefect_soar.simulators.ptsandbox import PTSandboxLabSettings
from prefect_soar.simulators.threatconnect import LAB_CREDENTIALS as TC_LAB
from prefect_soar.simulators.threatconnect import ThreatConnectLabSettings
from prefect_soar.simulators.tiledb import LAB_CREDENTIALS as TILEDB_LAB
from prefect_soar.simulators.tiledb import TileDBLabSettings

from .leak_search import capture_logs, exception_texts, occurrences, prefect_records, sources_with

pytestmark = pytest.mark.usefixtures("prefect_harness")

GOOD = {
    "ptsandbox api_key": "SNTL-pt-api-key-4b1e9f7c",
    "ptsandbox password": "SNTL-pt-password-8c2d0a61",
    "threatconnect secret_key": "SNTL-tc-hmac-secret-3f5a77e2",
    "threatconnect api_token": "SNTL-tc-api-token-9e04b1d6",
    "acronis client_secret": "SNTL-acronis-secret-2a7c5e90",
    "tiledb api_key": "SNTL-tiledb-api-key-6d13f8b4",
    "tiledb password": "SNTL-tiledb-password-0b9e4c27",
}
WRONG = {
    "wrong ptsandbox api_key": "SNTL-wrong-pt-api-key-71c3",
    "wrong ptsandbox password": "SNTL-wrong-pt-password-5e8a",
    "wrong threatconnect secret_key": "SNTL-wrong-tc-secret-0d4f",
    "wrong threatconnect api_token": "SNTL-wrong-tc-token-93b2",
    "wrong acronis client_secret": "SNTL-wrong-acronis-secret-c6e1",
    "wrong tiledb api_key": "SNTL-wrong-tiledb-key-2f70",
    "wrong tiledb password": "SNTL-wrong-tiledb-password-a49d",
}


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


SECRETS = {
    **GOOD,
    **WRONG,
    "acronis Basic auth": basic(ACRONIS_LAB["client_id"], GOOD["acronis client_secret"]),
    "wrong acronis Basic auth": basic(ACRONIS_LAB["client_id"], WRONG["wrong acronis client_secret"]),
    "tiledb Basic auth": basic(TILEDB_LAB["username"], GOOD["tiledb password"]),
    "wrong tiledb Basic auth": basic(TILEDB_LAB["username"], WRONG["wrong tiledb password"]),
}


CANARY = "SNTL-canary-planted-5d1f"
"""Planted on purpose in every place searched, to prove each search sees what it should."""
CANARY_SOURCES = {"run logs", "artifacts", "events", "flow runs", "task runs", "server database"}


@task(name="secrets-canary-task", retries=0)
async def canary_task() -> None:
    raise ValueError(f"task failed with {CANARY}")


@flow(name="secrets-canary")
async def canary_flow() -> None:
    """Put the canary in a run log, a stdlib log, an artifact, an event, a task run and the run's exception."""
    get_run_logger().info("planted %s", CANARY)
    logging.getLogger("prefect_soar.canary").debug("planted %s", CANARY)
    await acreate_markdown_artifact(markdown=f"planted {CANARY}", key="secrets-canary")
    emit_event(event="prefect-soar.canary", resource={"prefect.resource.id": "canary.1"}, payload={"x": CANARY})
    try:
        await canary_task()
    finally:
        raise RuntimeError(f"planted {CANARY}")


@dataclass
class Evidence:
    """What the runs produced: flow run ids, returned values, raised exceptions, captured log texts."""

    started: datetime
    flow_runs: list[UUID] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, BaseException] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    blocks: dict[str, ServiceCredentials] = field(default_factory=dict)


@pytest.fixture(scope="module")
def secret_lab() -> Iterator[Lab]:
    settings = {
        "ptsandbox": PTSandboxLabSettings(
            task_count=8, scan_seconds=0.1, api_key=GOOD["ptsandbox api_key"], password=GOOD["ptsandbox password"]
        ),
        "threatconnect": ThreatConnectLabSettings(
            secret_key=GOOD["threatconnect secret_key"], api_token=GOOD["threatconnect api_token"]
        ),
        "acronis": AcronisLabSettings(client_secret=GOOD["acronis client_secret"]),
        "tiledb": TileDBLabSettings(
            api_key=GOOD["tiledb api_key"], password=GOOD["tiledb password"], completion_delay_seconds=0.05
        ),
    }
    with Lab(settings=settings) as lab:
        yield lab


def lab_blocks(lab: Lab) -> dict[str, ServiceCredentials]:
    """Block name -> block: one good block per credential kind, and one with a wrong secret each."""
    pt, tc, acronis, tiledb = (lab[s].base_url for s in ("ptsandbox", "threatconnect", "acronis", "tiledb"))
    owner = TC_LAB["default_owner"]

    def sandbox(api_key: str, password: str) -> PTSandboxCredentials:
        return PTSandboxCredentials(base_url=pt, api_key=SecretStr(api_key), login=PT_LAB["login"],
                                    password=SecretStr(password))

    def tc_hmac(secret: str) -> ThreatConnectCredentials:
        return ThreatConnectCredentials(base_url=f"{tc}/api", access_id=TC_LAB["access_id"],
                                        secret_key=SecretStr(secret), default_owner=owner)

    def tc_token(token: str) -> ThreatConnectCredentials:
        return ThreatConnectCredentials(base_url=f"{tc}/api", api_token=SecretStr(token), default_owner=owner)

    def acronis_block(secret: str) -> AcronisCredentials:
        return AcronisCredentials(base_url=acronis, client_id=ACRONIS_LAB["client_id"],
                                  client_secret=SecretStr(secret))

    def tiledb_key(key: str) -> TileDBCredentials:
        return TileDBCredentials(base_url=f"{tiledb}/v1", api_key=SecretStr(key), namespace=TILEDB_LAB["namespace"])

    def tiledb_basic(password: str) -> TileDBCredentials:
        return TileDBCredentials(base_url=f"{tiledb}/v1", username=TILEDB_LAB["username"],
                                 password=SecretStr(password), namespace=TILEDB_LAB["namespace"])

    return {
        "sntl-pt": sandbox(GOOD["ptsandbox api_key"], GOOD["ptsandbox password"]),
        "sntl-pt-wrong-password": sandbox(GOOD["ptsandbox api_key"], WRONG["wrong ptsandbox password"]),
        "sntl-pt-wrong-key": sandbox(WRONG["wrong ptsandbox api_key"], GOOD["ptsandbox password"]),
        "sntl-tc-hmac": tc_hmac(GOOD["threatconnect secret_key"]),
        "sntl-tc-hmac-wrong": tc_hmac(WRONG["wrong threatconnect secret_key"]),
        "sntl-tc-token": tc_token(GOOD["threatconnect api_token"]),
        "sntl-tc-token-wrong": tc_token(WRONG["wrong threatconnect api_token"]),
        "sntl-acronis": acronis_block(GOOD["acronis client_secret"]),
        "sntl-acronis-wrong": acronis_block(WRONG["wrong acronis client_secret"]),
        "sntl-tiledb-key": tiledb_key(GOOD["tiledb api_key"]),
        "sntl-tiledb-key-wrong": tiledb_key(WRONG["wrong tiledb api_key"]),
        "sntl-tiledb-basic": tiledb_basic(GOOD["tiledb password"]),
        "sntl-tiledb-basic-wrong": tiledb_basic(WRONG["wrong tiledb password"]),
    }


def flow_runs(lab: Lab, sample: Path) -> list[tuple[str, Any, dict[str, Any], bool]]:
    """(label, flow, parameters, should succeed) for every flow of the pack, good and wrong secrets."""
    open_task = next(t for t in lab["threatconnect"].backend.tasks.values() if t.status != "Completed")
    triage = {"query": "", "first_run_lookback_hours": 24 * 40, "max_items": 4, "page_size": 10,
              "artifact_dir": str(sample.parent / "store"), "max_scanned_artifacts": 1}
    detonate = {"poll_seconds": 0.05, "timeout_seconds": 30}
    sink = {"first_run_lookback_hours": 24 * 30, "max_items": 3, "page_size": 10}
    return [
        ("triage", sandbox_triage, {"sandbox_block": "sntl-pt", "threatconnect_block": "sntl-tc-hmac",
                                    "watermark": "sntl-triage", **triage}, True),
        ("triage wrong password", sandbox_triage, {"sandbox_block": "sntl-pt-wrong-password",
                                                   "threatconnect_block": "sntl-tc-hmac",
                                                   "watermark": "sntl-triage-wrong", **triage}, False),
        ("detonate", detonate_and_report, {"file_path": str(sample), "sandbox_block": "sntl-pt",
                                           "threatconnect_block": "sntl-tc-token", **detonate}, True),
        ("detonate wrong api key", detonate_and_report, {"url": "https://evil.example.net/x", "sandbox_block":
                                                         "sntl-pt-wrong-key", "threatconnect_block": "sntl-tc-hmac",
                                                         **detonate}, False),
        ("detonate wrong hmac secret", detonate_and_report, {"url": "https://evil.example.net/y", "sandbox_block":
                                                             "sntl-pt", "threatconnect_block": "sntl-tc-hmac-wrong",
                                                             **detonate}, False),
        ("escalate", escalate_detection, {"threatconnect_task_id": open_task.id, "verdict": "DANGEROUS",
                                          "threatconnect_block": "sntl-tc-token"}, True),
        ("escalate wrong token", escalate_detection, {"threatconnect_task_id": open_task.id, "verdict": "DANGEROUS",
                                                      "threatconnect_block": "sntl-tc-token-wrong"}, False),
        ("acronis", acronis_failures_to_threatconnect, {"acronis_block": "sntl-acronis", "threatconnect_block":
                                                        "sntl-tc-hmac", "watermark": "sntl-acronis", **sink}, True),
        ("acronis wrong secret", acronis_failures_to_threatconnect, {"acronis_block": "sntl-acronis-wrong",
                                                                     "threatconnect_block": "sntl-tc-hmac",
                                                                     "watermark": "sntl-acronis-wrong", **sink}, False),
        ("tiledb report", tiledb_sql_report, {"tiledb_block": "sntl-tiledb-key", "report_key": "sntl-report"}, True),
        ("tiledb report wrong key", tiledb_sql_report, {"tiledb_block": "sntl-tiledb-key-wrong",
                                                        "report_key": "sntl-report-wrong"}, False),
        ("tiledb audit", tiledb_failed_tasks_to_threatconnect, {"tiledb_block": "sntl-tiledb-basic",
                                                                "threatconnect_block": "sntl-tc-token",
                                                                "watermark": "sntl-tiledb", **sink}, True),
        ("tiledb audit wrong password", tiledb_failed_tasks_to_threatconnect, {
            "tiledb_block": "sntl-tiledb-basic-wrong", "threatconnect_block": "sntl-tc-token",
            "watermark": "sntl-tiledb-wrong", **sink}, False),
        ("healthcheck", healthcheck, {"timeout_seconds": 15}, False),  # the wrong blocks fail their check
    ]


_read_block_documents_by_type = PrefectClient.read_block_documents_by_type


async def only_this_tests_blocks(self: PrefectClient, *args: Any, **kwargs: Any) -> list[Any]:
    """The saved blocks the healthcheck lists, narrowed to this test's: other tests' blocks point at labs
    that are gone or at example hosts, which would make the check slow and reach beyond loopback."""
    documents = await _read_block_documents_by_type(self, *args, **kwargs)
    return [doc for doc in documents if (doc.name or "").startswith("sntl-")]


@pytest.fixture(scope="module")
async def evidence(secret_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Evidence]:
    """Save the blocks, run every flow at DEBUG with the logs captured, and keep what came out."""
    found = Evidence(started=datetime.now(UTC))
    sample = tmp_path_factory.mktemp("secrets") / "invoice.exe"
    sample.write_bytes(b"MZ\x90\x00 lab sample: MALWARE dropper\n")
    found.blocks = lab_blocks(secret_lab)
    with (
        capture_logs() as handler,
        temporary_settings({PREFECT_LOGGING_LEVEL: "DEBUG"}),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(PrefectClient, "read_block_documents_by_type", only_this_tests_blocks)
        for name, block in found.blocks.items():
            await block.save(name, overwrite=True)
        runs: list[tuple[str, Any, dict[str, Any], bool]] = [*flow_runs(secret_lab, sample)]
        runs.append(("canary", canary_flow, {}, False))
        for label, run, parameters, should_succeed in runs:
            state: State[Any] = await run(**parameters, return_state=True)
            assert state.state_details.flow_run_id is not None
            found.flow_runs.append(state.state_details.flow_run_id)
            outcome = await state.aresult(raise_on_failure=False)
            if isinstance(outcome, BaseException):
                found.errors[label] = outcome
            else:
                found.results[label] = outcome
            assert state.is_completed() == should_succeed, f"{label}: {state.type} {state.message}"
    found.logs = handler.texts
    yield found


def test_every_flow_ran_and_the_wrong_secrets_failed_as_authentication_errors(evidence: Evidence) -> None:
    assert set(evidence.results) == {"triage", "detonate", "escalate", "acronis", "tiledb report", "tiledb audit"}
    for label, error in evidence.errors.items():
        if label not in ("healthcheck", "canary"):
            assert isinstance(error, AuthenticationError), f"{label}: {type(error).__name__}: {error}"
    logs = "\n".join(evidence.logs)
    assert "ptsandbox-credentials/sntl-pt: ok" in logs and "sntl-pt-wrong-password: FAILED" in logs, "healthcheck ran"
    assert "prefect_soar.http DEBUG" in logs and "httpcore" in logs, "DEBUG logging was on"


def test_no_secret_in_the_captured_logs(evidence: Evidence) -> None:
    assert sources_with({"captured logs": evidence.logs}, CANARY) == {"captured logs"}
    assert occurrences({"captured logs": evidence.logs}, SECRETS) == []


def test_no_secret_in_results_or_exceptions(evidence: Evidence) -> None:
    texts = {
        "results": [repr(result) for result in evidence.results.values()],
        "exceptions": [f"{label}: {exception_texts(error)}" for label, error in evidence.errors.items()],
    }
    assert sources_with(texts, CANARY) == {"exceptions"}
    assert occurrences(texts, SECRETS) == []


async def test_no_secret_in_what_prefect_stored(evidence: Evidence) -> None:
    canary_run = f"prefect.flow-run.{evidence.flow_runs[-1]}"

    def canary_failed(event: str) -> bool:  # the canary run's final state: the last event of all the runs
        return canary_run in event and '"event":"prefect.flow-run.Failed"' in event

    records = await prefect_records(evidence.flow_runs, evidence.started, last_event=canary_failed)
    assert sources_with(records, CANARY) >= CANARY_SOURCES, "each search sees what was planted"
    assert any("sntl-tc-hmac" in text for text in records["flow runs"]), "flow run parameters were read"
    assert any("sntl-pt-wrong-key" in text for text in records["block documents"]), "block documents were read"
    assert occurrences(records, SECRETS) == []


def masked_views(block: ServiceCredentials) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = str(block.dict())
    return [repr(block), str(block), str(block.model_dump()), legacy, block.model_dump_json(),
            str(block.model_dump(mode="json"))]


def reachable_reprs(root: object, depth: int = 3) -> list[str]:
    """``repr`` of the object and of everything reachable through its attributes (not plain strings)."""
    shown, stack, seen = [], [(root, 0)], set()
    while stack:
        obj, level = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | bool) or obj is None:
            continue
        seen.add(id(obj))
        shown.append(repr(obj))
        if level < depth and hasattr(obj, "__dict__"):
            stack.extend((value, level + 1) for value in vars(obj).values())
    return shown


async def test_blocks_and_clients_show_secrets_masked(evidence: Evidence) -> None:
    views = {name: masked_views(block) for name, block in evidence.blocks.items()}
    assert all("**********" in text for texts in views.values() for text in texts[:3])
    loaded = {name: masked_views(await type(block).aload(name)) for name, block in evidence.blocks.items()}
    clients: dict[str, list[str]] = {}
    for name, block in evidence.blocks.items():
        client = block.get_client()
        try:
            clients[name] = reachable_reprs(client)
        finally:
            await client.aclose()
    assert occurrences({**views, **{f"loaded {k}": v for k, v in loaded.items()}, **clients}, SECRETS) == []
