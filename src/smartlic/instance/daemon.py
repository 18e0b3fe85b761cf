"""One product instance as a process: the scheduler loop and the REST API under uvicorn.

The scheduler is a plain asyncio loop: it calls ``agent.tick()`` when something is due and
sleeps until ``agent.next_wakeup()`` (at most ``max_sleep`` seconds, so clock changes and REST
imports are noticed). ``sleep`` is injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
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
    ssh_port: int | None = None,
    ssh_host: str | None = None,
    enable_secret: str | None = None,
    hostname: str | None = None,
    ready: Callable[[dict[str, int]], None] | None = None,
    shutdown: asyncio.Event | None = None,
    http_socket: socket.socket | None = None,
) -> None:
    """Scheduler, REST API and (with ``ssh_port``) the device shell over SSH, on one event loop,
    until interrupted. The same username and password guard the REST API and SSH. Port 0 picks
    a free port; ``ready`` receives the bound ports (``{"http": n, "ssh": m}``); setting
    ``shutdown`` stops everything cleanly. ``http_socket``, already bound, serves the REST API
    instead of ``host:port`` (the CLI binds first so a port in use is refused cleanly)."""
    app = create_app(agent, username, password)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler(agent, max_sleep=max_sleep, stop=stop))
    acceptor = None
    ports: dict[str, int] = {}
    if ssh_port is not None:
        from smartlic.instance.shell.session import Device
        from smartlic.instance.shell.ssh import start_ssh_server

        device = Device(agent, hostname=hostname, enable_secret=enable_secret)
        acceptor = await start_ssh_server(
            device, host=ssh_host or host, port=ssh_port, username=username, password=password
        )
        ports["ssh"] = acceptor.sockets[0].getsockname()[1]
    watcher = None
    if ready is not None:
        callback = ready

        async def announce() -> None:
            while not server.started:
                await asyncio.sleep(0.01)
            ports["http"] = server.servers[0].sockets[0].getsockname()[1]
            callback(ports)

        watcher = asyncio.create_task(announce())
    stopper = None
    if shutdown is not None:
        event = shutdown

        async def wait_for_shutdown() -> None:
            await event.wait()
            server.should_exit = True

        stopper = asyncio.create_task(wait_for_shutdown())
    try:
        await server.serve(sockets=None if http_socket is None else [http_socket])
    finally:
        for helper in (watcher, stopper):
            if helper is not None:
                helper.cancel()
        if acceptor is not None:
            acceptor.close()
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
