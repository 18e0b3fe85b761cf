"""One product instance as a process: the scheduler loop and the REST API under uvicorn.

The scheduler is a plain asyncio loop: it calls ``agent.tick()`` when something is due and
sleeps until ``agent.next_wakeup()`` (at most ``max_sleep`` seconds, so clock changes and REST
imports are noticed). ``sleep`` is injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import uvicorn

from smartlic.core.errors import SmartLicError
from smartlic.instance.agent import Agent
from smartlic.instance.restapi import create_app

log = logging.getLogger("smartlic.instance")


async def scheduler(
    agent: Agent,
    *,
    max_sleep: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``agent.tick()`` whenever it is due, until ``stop`` is set."""
    while stop is None or not stop.is_set():
        try:
            for line in agent.tick():
                log.info("%s", line)
        except SmartLicError as exc:
            log.warning("scheduler: %s", exc.reason)
        wait = max(0.0, min(max_sleep, agent.next_wakeup() - agent.clock.now()))
        await sleep(wait)


async def serve(
    agent: Agent,
    *,
    host: str,
    port: int,
    username: str,
    password: str,
    max_sleep: float = 60.0,
) -> None:
    """Scheduler and REST API together on one event loop, until interrupted."""
    app = create_app(agent, username, password)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler(agent, max_sleep=max_sleep, stop=stop))
    try:
        await server.serve()
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
