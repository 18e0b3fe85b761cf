"""Run one agent operation in a child process; ``SMARTLIC_FAULT`` kills it at a named point.

``python -m tests.instance.crash_worker STATE OPERATION TIME [ARG]`` with OPERATION one of
``close`` (close_reports, 15 minutes after the start), ``import`` (import the file ARG),
``return`` (authorization return ARG=local|all online, over the configured transport) and
``run`` (the scheduler's ticks every 15 minutes for ARG seconds, then a power cut: ``os._exit``
without ``close``). The fault point comes in ``CRASH_AT`` and is armed only after the agent has
started, so the start (which closes reports left open by the previous run) is not what gets
killed.
"""

from __future__ import annotations

import os
import sys

from smartlic.instance import Agent, ManualClock
from smartlic.instance.store import FAULT_ENV, FAULT_EXIT


def main(argv: list[str]) -> int:
    state, operation, when = argv[0], argv[1], int(argv[2])
    clock = ManualClock(when)
    agent = Agent.open(state, clock=clock)
    os.environ[FAULT_ENV] = os.environ.get("CRASH_AT", "")
    if operation == "close":
        clock.advance(900)
        agent.close_reports()
    elif operation == "import":
        agent.import_file(argv[3])
    elif operation == "return":
        agent.authorization_return(argv[3], "online")
    elif operation == "run":
        for _ in range(int(argv[3]) // 900):
            clock.advance(900)
            agent.tick()
        os._exit(FAULT_EXIT)
    else:
        return 2
    agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
