"""Product-instance messages run on at most ``protocol_threads`` threads per worker (ADR 0014):
the work is CPU-bound, so the others wait in the event loop rather than contend for the
interpreter lock. Served by uvicorn on loopback, with the real endpoint behind a wrapper that
only counts how many calls run at once."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.authority.app import create_app
from smartlic.authority.settings import Settings
from tests.authority.conftest import serving
from tests.authority.helpers import World


def _max_at_once(world: World, tmp_path: Path, threads: int, requests: int = 6) -> int:
    app = create_app(
        Settings(data=tmp_path / "data", protocol_threads=threads), authority=world.authority
    )
    service = app.state.protocol
    real = service.handle
    lock = threading.Lock()
    running = peak = 0

    def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            time.sleep(0.15)
            return real(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    service.handle = counted
    with serving(app, world) as srv, ThreadPoolExecutor(requests) as pool:

        def send(_: int) -> int:
            return httpx.post(f"{srv.base}/cslu/v1/pi", content=b"{}", timeout=30).status_code

        statuses = list(pool.map(send, range(requests)))
    assert statuses == [400] * requests  # the real endpoint answered each: MALFORMED
    return peak


@pytest.mark.parametrize("threads", [1, 3])
def test_protocol_messages_run_on_at_most_the_threads_set(
    world: World, tmp_path: Path, threads: int
) -> None:
    assert _max_at_once(world, tmp_path, threads) == threads


def test_the_default_is_one_thread_per_core(world: World, tmp_path: Path) -> None:
    cores = os.cpu_count() or 1
    assert _max_at_once(world, tmp_path, 0, requests=cores + 3) == cores
