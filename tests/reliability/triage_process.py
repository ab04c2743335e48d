"""Run the sandbox triage flow in its own process, for the crash-and-resume test to kill.

Usage: ``python tests/reliability/triage_process.py '<json of sandbox_triage keyword arguments>'``.
The Prefect API comes from ``PREFECT_API_URL`` in the environment (the test's server, where the
blocks and the watermark live). Prints one JSON line with the flow's summary when it finishes.
"""

from __future__ import annotations

import asyncio
import json
import sys

from prefect_soar.flows.sandbox_triage import sandbox_triage


def main(argv: list[str]) -> int:
    """Run the flow with the keyword arguments given as JSON; return the exit code."""
    kwargs = json.loads(argv[1])
    summary = asyncio.run(sandbox_triage(**kwargs))
    print(json.dumps({"processed": summary["processed"], "created": summary["created"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
