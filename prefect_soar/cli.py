"""The ``prefect-soar`` command: the lab, the demo, connectivity checks and serving deployments."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _lab(args: argparse.Namespace) -> int:
    from prefect_soar.simulators import SERVICES
    from prefect_soar.simulators._lab import FaultConfig
    from prefect_soar.simulators.lab import Lab

    names = args.services or list(SERVICES)
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        print(f"unknown service(s): {', '.join(unknown)}; choose from {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    ports = {name: (0 if args.random_ports else SERVICES[name] + args.port_offset) for name in names}
    faults = FaultConfig.model_validate_json(args.faults) if args.faults else None
    lab = Lab(services=names, ports=ports, faults=faults, tls_dir=Path(args.tls_dir) if args.tls_dir else None)
    with lab:
        print("prefect-soar lab is running (Ctrl+C to stop)")
        if lab.ca_path:
            print(f"  TLS CA bundle: {lab.ca_path}  (give it to the blocks as ca_bundle)")
        for name, service in lab.running.items():
            print(f"  {name:14s} {service.base_url}")
            print(f"  {'':14s} credentials: {json.dumps(service.credentials)}")
            print(f"  {'':14s} faults: PUT {service.base_url}/_lab/faults  reset: POST {service.base_url}/_lab/reset")
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _check(args: argparse.Namespace) -> int:
    import asyncio

    from prefect_soar.flows.healthcheck import check_saved_blocks

    results = asyncio.run(check_saved_blocks(timeout=args.timeout))
    if not results:
        print("no prefect-soar credential blocks are saved; create one in the Prefect UI or with Block.save()")
        return 1
    for result in results:
        print(result.line())
    return 0 if all(r.ok for r in results) else 1


def _demo(args: argparse.Namespace) -> int:
    from prefect_soar.demo import main as demo_main

    return demo_main()


def _serve(args: argparse.Namespace) -> int:
    from prefect import serve

    from prefect_soar.flows.deployments import deployments

    try:
        selected = deployments(args.only or None)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"serving {len(selected)} deployment(s) in this process (Ctrl+C to stop):")
    for deployment in selected:
        print(f"  {deployment.flow_name}/{deployment.name}")
    sys.stdout.flush()
    serve(*selected, limit=args.limit)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``prefect-soar`` command."""
    parser = argparse.ArgumentParser(prog="prefect-soar", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="serve the emulators of the four services on loopback")
    lab.add_argument("services", nargs="*", help="services to serve (default: all)")
    lab.add_argument("--port-offset", type=int, default=0, help="add this to the default ports 8701-8704")
    lab.add_argument("--random-ports", action="store_true", help="pick free ports")
    lab.add_argument("--tls-dir", help="serve TLS with a fresh CA written to this folder")
    lab.add_argument("--faults", help='fault injection as JSON, e.g. \'{"errors": {"503": 0.1}, "latency_ms": 20}\'')
    lab.set_defaults(func=_lab)

    demo = sub.add_parser("demo", help="run every flow against the lab with a local ephemeral Prefect server")
    demo.set_defaults(func=_demo)

    check = sub.add_parser("check", help="test the connection of every saved credentials block")
    check.add_argument("--timeout", type=float, default=30.0, help="seconds allowed per block")
    check.set_defaults(func=_check)

    serve = sub.add_parser("serve", help="serve every prefect-soar deployment in this process (prefect.serve)")
    serve.add_argument("--limit", type=int, default=None, help="most flow runs executing at once (default: no limit)")
    serve.add_argument("--only", action="append", metavar="FLOW[/DEPLOYMENT]",
                       help="serve only this deployment, e.g. detonate_and_report (repeatable)")
    serve.set_defaults(func=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``prefect-soar`` command."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
