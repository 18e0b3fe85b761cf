"""A product instance serving the shell over real SSH on a loopback port, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smartlic.instance import Agent
from smartlic.instance.daemon import serve

USERNAME = "admin"
PASSWORD = "lab-password"
SECRET = "lab-enable"


@dataclass
class Running:
    agent: Agent
    ssh_port: int
    http_port: int


@contextmanager
def running(agent: Agent, enable_secret: str | None = SECRET) -> Iterator[Running]:
    ports: dict[str, int] = {}
    ready = threading.Event()
    holder: dict[str, asyncio.AbstractEventLoop] = {}
    stop: dict[str, asyncio.Event] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        stop["event"] = asyncio.Event()
        task = asyncio.create_task(
            serve(
                agent,
                host="127.0.0.1",
                port=0,
                username=USERNAME,
                password=PASSWORD,
                ssh_port=0,
                enable_secret=enable_secret,
                ready=lambda p: (ports.update(p), ready.set()),
                shutdown=stop["event"],
            )
        )
        await task

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(20):
        raise RuntimeError("the instance did not start")
    try:
        yield Running(agent, ports["ssh"], ports["http"])
    finally:
        holder["loop"].call_soon_threadsafe(stop["event"].set)
        thread.join(timeout=10)
