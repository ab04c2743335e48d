"""Deployments: prefect.yaml agrees with deployments(), the trigger templates render into valid parameters,
``prefect deploy --all`` works against a real ``prefect server start``, and the detonation trigger starts a
run with the event's payload that a worker then executes against the lab."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import pkgutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from detonation_lab import detonation_lab, ptsandbox_block, tc_tasks, threatconnect_block
from prefect import Flow
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events import DeploymentEventTrigger, Event
from prefect.events.schemas.deployment_triggers import DeploymentTriggerTypes
from prefect.server.events.jinja_filters import all_filters
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.utilities.user_templates import register_user_template_filters
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate
from prefect.utilities.schema_tools.validation import validate
from pydantic import TypeAdapter

import prefect_soar.flows
from prefect_soar import cli
from prefect_soar.flows._detonation import url_sha256
from prefect_soar.flows.deployments import SPECS, WORK_POOL, deployments
from prefect_soar.flows.detonate import detonate_and_report, request_detonation
from prefect_soar.flows.escalate import escalate_detection
from prefect_soar.simulators.lab import Lab

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = REPO / "deployments" / "prefect.yaml"


def yaml_deployments() -> list[dict[str, Any]]:
    return list(yaml.safe_load(PREFECT_YAML.read_text())["deployments"])


def yaml_schedules(entry: dict[str, Any]) -> list[tuple[str, Any, str | None]]:
    out = []
    for item in entry.get("schedules") or []:
        if "interval" in item:
            out.append(("interval", float(item["interval"]), None))
        else:
            out.append(("cron", item["cron"], item.get("timezone")))
    return out


def python_schedules(deployment: Any) -> list[tuple[str, Any, str | None]]:
    out = []
    for created in deployment.schedules:
        schedule = created.schedule
        if hasattr(schedule, "interval"):
            out.append(("interval", schedule.interval.total_seconds(), None))
        else:
            out.append(("cron", schedule.cron, schedule.timezone))
    return out


def yaml_triggers(entry: dict[str, Any]) -> list[dict[str, Any]]:
    adapter: TypeAdapter[Any] = TypeAdapter(DeploymentTriggerTypes)
    return [adapter.validate_python(spec).model_dump(mode="json") for spec in entry.get("triggers") or []]


def test_prefect_yaml_and_deployments_agree():
    built = {(d.entrypoint, d.name): d for d in deployments(work_pool_name=WORK_POOL)}
    entries = yaml_deployments()
    assert len(entries) == len(built) == len(SPECS)
    assert {(e["entrypoint"], e["name"]) for e in entries} == set(built)
    for entry in entries:
        deployment = built[(entry["entrypoint"], entry["name"])]
        where = f"{deployment.flow_name}/{deployment.name}"
        assert entry["work_pool"]["name"] == deployment.work_pool_name == WORK_POOL, where
        assert entry["work_pool"].get("work_queue_name") == deployment.work_queue_name, where
        assert entry["description"] == deployment.description, where
        assert entry["tags"] == deployment.tags, where
        assert entry.get("parameters", {}) == deployment.parameters, where
        assert yaml_schedules(entry) == python_schedules(deployment), where
        assert yaml_triggers(entry) == [t.model_dump(mode="json") for t in deployment.triggers], where
        limit = entry.get("concurrency_limit")
        if limit is None:
            assert deployment.concurrency_limit is None, where
        else:
            assert deployment.concurrency_limit == limit["limit"], where
            assert deployment.concurrency_options.collision_strategy == limit["collision_strategy"], where


def flows_in_package() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(prefect_soar.flows.__path__):
        module = importlib.import_module(f"prefect_soar.flows.{info.name}")
        for _, obj in inspect.getmembers(module, lambda o: isinstance(o, Flow)):
            if obj.fn.__module__ == module.__name__:
                found.add(obj.name)
    return found


def test_one_deployment_per_flow_and_each_a_module_path():
    built = deployments()
    names = [d.flow_name for d in built]
    assert sorted(names) == sorted(flows_in_package()), "every flow of the package has exactly one deployment"
    assert all(d.work_pool_name is None for d in built), "served deployments have no work pool"
    for deployment in built:
        assert ":" not in deployment.entrypoint and deployment.entrypoint.startswith("prefect_soar.flows.")
        assert deployment.schedules or deployment.triggers, f"{deployment.name} runs on a schedule or an event"
    watermark_flows = {"sandbox-triage", "acronis-failures-to-threatconnect", "tiledb-failed-tasks-to-threatconnect"}
    for deployment in built:
        if deployment.flow_name in watermark_flows:
            assert deployment.concurrency_limit == 1
            assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW"


# -- trigger templates, rendered by Prefect's own server-side templating ------------------------


def received(event: str, resource_id: str, payload: dict[str, Any]) -> ReceivedEvent:
    return ReceivedEvent(id=uuid.uuid4(), occurred=datetime.now(UTC), event=event,
                         resource={"prefect.resource.id": resource_id}, payload=payload)


def render(trigger: DeploymentEventTrigger, event: ReceivedEvent) -> dict[str, Any]:
    """What the run-deployment action does with the trigger's parameters (v1 upgrade, then hydration)."""
    from prefect.server.events.actions import RunDeployment

    register_user_template_filters(all_filters)
    parameters = dict(trigger.parameters or {})
    RunDeployment._upgrade_v1_templates(parameters)
    context = HydrationContext(raise_on_error=True, render_jinja=True, jinja_context={"event": event})
    return hydrate(parameters, context)


DETONATION_DEFAULTS = {"file_path": "", "url": "", "tags": [], "requested_by": ""}


@pytest.mark.parametrize(
    "payload",
    [
        {"url": "https://evil.example.net/x"},
        {"file_path": "/srv/quarantine/invoice.exe", "tags": ["case-42", "mail"], "requested_by": "mail-gw"},
        {"url": "https://evil.example.net/x", "file_path": None, "tags": None, "requested_by": None},
        {"url": "https://evil.example.net/x", "unrelated": {"nested": True}},
    ],
)
def test_detonation_trigger_renders_the_payload_into_valid_parameters(payload):
    [deployment] = deployments(["detonate_and_report"])
    [trigger] = deployment.triggers
    assert trigger.expect == {"prefect-soar.detonation.requested"}
    event = received("prefect-soar.detonation.requested", "prefect-soar.detonation.abc", payload)
    rendered = render(trigger, event)
    expected = {**DETONATION_DEFAULTS, **{k: v for k, v in payload.items() if k in DETONATION_DEFAULTS and v}}
    assert rendered == expected
    assert validate(rendered, parameter_schema(detonate_and_report).model_dump(), raise_on_error=False) == []
    validated = detonate_and_report.validate_parameters(rendered)
    assert {k: validated[k] for k in rendered} == rendered


def test_plain_templates_would_fail_on_a_missing_key():
    """Why the YAML uses ``default(..., true)``: Prefect cannot render a missing key as JSON."""
    trigger = DeploymentEventTrigger(expect={"x"}, parameters={"file_path": "{{ event.payload.file_path }}"})
    with pytest.raises(Exception, match=r"not JSON serializable|Invalid jinja"):
        render(trigger, received("x", "a.b", {"url": "https://e.example/"}))


def test_detection_trigger_renders_the_escalation_parameters():
    [deployment] = deployments(["escalate_detection"])
    [trigger] = deployment.triggers
    event = received("prefect-soar.sandbox.detection", "ptsandbox.task.5b1e",
                     {"verdict": "DANGEROUS", "classification": "TROJAN", "threatconnect_task_id": 1042})
    rendered = render(trigger, event)
    assert rendered == {"threatconnect_task_id": 1042, "verdict": "DANGEROUS", "sandbox_task": "ptsandbox.task.5b1e"}
    assert validate(rendered, parameter_schema(escalate_detection).model_dump(), raise_on_error=False) == []


# -- prefect-soar serve -------------------------------------------------------------------------


def test_serve_command_serves_every_deployment(monkeypatch):
    served: dict[str, Any] = {}

    def fake_serve(*deps: Any, **kwargs: Any) -> None:
        served["deployments"], served["kwargs"] = deps, kwargs

    monkeypatch.setattr("prefect.serve", fake_serve)
    parser = cli.build_parser()
    args = parser.parse_args(["serve", "--limit", "3"])
    assert args.command == "serve" and args.limit == 3
    assert cli.main(["serve", "--limit", "3"]) == 0
    assert len(served["deployments"]) == len(SPECS) and served["kwargs"] == {"limit": 3}
    assert cli.main(["serve", "--only", "detonate_and_report"]) == 0
    assert [f"{d.flow_name}/{d.name}" for d in served["deployments"]] == ["detonate-and-report/on-request"]
    assert cli.main(["serve", "--only", "no_such_flow"]) == 2


# -- a real `prefect server start`: prefect deploy --all, the trigger, a worker ----------------------


@dataclass
class LocalServer:
    """A ``prefect server start`` subprocess with its own PREFECT_HOME and SQLite database."""

    api_url: str
    env: dict[str, str]
    home: Path

    def prefect(self, *args: str, timeout: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """Run the ``prefect`` CLI against this server."""
        return subprocess.run(
            [str(PREFECT), *args], env=self.env, cwd=cwd or self.home, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def client(self) -> PrefectClient:
        return PrefectClient(api=self.api_url)


PREFECT = Path(sys.executable).with_name("prefect")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home), PREFECT_API_URL=api_url, PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    )
    log_path = home / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server start did not come up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield LocalServer(api_url, env, home)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture(scope="module")
def deployed(local_server: LocalServer) -> LocalServer:
    """The work pool created and ``prefect deploy --all`` run (from a folder outside the repo)."""
    pool = local_server.prefect("work-pool", "create", WORK_POOL, "--type", "process")
    assert pool.returncode == 0, pool.stdout + pool.stderr
    done = local_server.prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_YAML))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return local_server


@pytest.mark.slow
async def test_prefect_deploy_all_creates_every_deployment(deployed: LocalServer):
    expected = {(d.flow_name, d.name): d for d in deployments(work_pool_name=WORK_POOL)}
    async with deployed.client() as client:
        for (flow_name, name), want in expected.items():
            got = await client.read_deployment_by_name(f"{flow_name}/{name}")
            where = f"{flow_name}/{name}"
            assert got.entrypoint == want.entrypoint and got.work_pool_name == WORK_POOL, where
            assert (got.work_queue_name or "default") == (want.work_queue_name or "default"), where
            assert got.pull_steps in (None, []), "module-path entrypoints: nothing to pull"
            assert sorted(got.tags) == sorted(want.tags), where
            assert got.parameter_openapi_schema and got.parameter_openapi_schema["properties"], where
            limit = got.global_concurrency_limit.limit if got.global_concurrency_limit else None
            assert limit == want.concurrency_limit, where
            if want.concurrency_options is not None:
                assert got.concurrency_options is not None
                assert got.concurrency_options.collision_strategy == want.concurrency_options.collision_strategy
            server_schedules = sorted(
                ("interval", s.schedule.interval.total_seconds(), None) if hasattr(s.schedule, "interval")
                else ("cron", s.schedule.cron, s.schedule.timezone)
                for s in got.schedules
            )
            assert server_schedules == sorted(python_schedules(want)), where
            automations = await client.read_resource_related_automations(f"prefect.deployment.{got.id}")
            assert sorted(a.name for a in automations) == sorted(t.name or "" for t in want.triggers), where
            for automation in automations:
                [trigger] = [t for t in want.triggers if t.name == automation.name]
                assert automation.trigger.expect == trigger.expect
                assert automation.trigger.match.model_dump() == trigger.match.model_dump()
                [action] = automation.actions
                assert action.type == "run-deployment" and action.deployment_id == got.id
                assert action.parameters == trigger.parameters


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with detonation_lab() as running:
        yield running


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_detonation_trigger_starts_a_run_with_the_event_payload_and_a_worker_runs_it(
    deployed: LocalServer, lab: Lab, monkeypatch: pytest.MonkeyPatch
):
    """The Done-when proof: a prefect-soar.detonation.requested event on a real server starts a run of
    detonate-and-report/on-request whose parameters are the event's payload; a process worker runs it."""
    # Blocks under the flow's default names on the local server, pointing at the lab.
    with temporary_settings({PREFECT_API_URL: deployed.api_url}):
        await ptsandbox_block(lab).asave("ptsandbox", overwrite=True)
        await threatconnect_block(lab).asave("threatconnect", overwrite=True)

    # The event exactly as request_detonation() builds it, sent through the server's REST API.
    monkeypatch.setattr("prefect_soar.flows.detonate.emit_event", lambda **fields: Event(**fields))
    url = "https://evil.example.net/invoice-" + uuid.uuid4().hex[:6]
    event = request_detonation(url=url, tags=["case-77"], requested_by="alice@soc")
    assert event is not None

    async with deployed.client() as client:
        deployment = await client.read_deployment_by_name("detonate-and-report/on-request")
        # Quick polls for the lab's quick scans (a deployment default; the event supplies the rest).
        await client.update_deployment(deployment.id, DeploymentUpdate(parameters={"poll_seconds": 0.1}))
        response = await client._client.post("/events", json=[event.model_dump(mode="json")])
        assert response.status_code == 204

        runs_filter = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
        deadline = time.monotonic() + 30
        while not (runs := await client.read_flow_runs(deployment_filter=runs_filter)):
            assert time.monotonic() < deadline, "the trigger started no flow run within 30 s"
            await asyncio.sleep(0.25)
        [run] = runs
        assert run.parameters == {**DETONATION_DEFAULTS, **event.payload, "poll_seconds": 0.1}, (
            "the run got the event's payload (on top of the deployment's default poll_seconds)"
        )
        assert event.payload == {"url": url, "tags": ["case-77"], "requested_by": "alice@soc"}

        # A process worker on the detonations queue picks the run up and executes it against the lab.
        executed = await asyncio.to_thread(
            deployed.prefect, "worker", "start", "--pool", WORK_POOL, "--work-queue", "detonations", "--run-once",
            timeout=120,
        )
        final = await client.read_flow_run(run.id)
        assert final.state is not None and final.state.is_completed(), (
            f"{final.state}\n{executed.stdout[-3000:]}\n{executed.stderr[-3000:]}"
        )
    [task] = tc_tasks(lab, f"detonation:url:{url_sha256(url)}")
    assert {"pt-sandbox", "detonation", "DANGEROUS", "case-77"} <= set(task.tags)
    assert "Requested by: alice@soc" in task.attribute_values("Description")[0]
