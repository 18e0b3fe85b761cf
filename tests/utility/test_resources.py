"""Resource hygiene when every role runs in one process (the lab): the utility's client to the
authority is made once per tenant however many request threads ask for it at once, and closed
when the preferences change or the utility closes; an extra client would leave its sockets to
the garbage collector (``ResourceWarning: unclosed socket``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smartlic.core.errors import CommunicationError
from smartlic.utility.service import Utility
from smartlic.utility.upstream import Upstream
from tests.utility.conftest import serve_in_thread

THREADS = 8


def test_one_upstream_per_tenant_under_concurrent_requests(tmp_path: Path) -> None:
    made: list[Upstream] = []

    def slow_factory(url: str, token: str | None, tenant: str | None) -> Upstream:
        time.sleep(0.05)  # as long as building a client takes on a loaded machine
        upstream = Upstream(url, token, tenant=tenant)
        made.append(upstream)
        return upstream

    utility = Utility(tmp_path, upstream_factory=slow_factory)
    utility.configure(connected=True, authority_url="http://127.0.0.1:9", authority_token="t")
    start = threading.Barrier(THREADS)

    def ask(tenant: str | None) -> Upstream:
        start.wait()
        return utility.upstream(tenant)

    with ThreadPoolExecutor(THREADS) as pool:
        got = list(pool.map(ask, [None, "acme"] * (THREADS // 2)))
    assert len(made) == 2
    assert {id(u) for u in got} == {id(u) for u in made}
    assert {u.url for u in made} == {
        "http://127.0.0.1:9/cslu/v1/pi",
        "http://127.0.0.1:9/cslu/v1/pi/acme",
    }
    # New preferences: the old clients are closed, the next request makes a new one.
    utility.configure(authority_url="http://127.0.0.1:10")
    assert all(u.closed for u in made)
    fresh = utility.upstream()
    assert fresh.url == "http://127.0.0.1:10/cslu/v1/pi"
    utility.close()
    assert fresh.closed


def test_closing_the_utility_closes_its_open_connections(tmp_path: Path) -> None:
    """A real keep-alive connection to a real server is closed by ``close`` (a leak would fail
    this test: warnings are errors, unraisable ones included)."""
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI()

    @app.post("/cslu/v1/pi")
    def refuse() -> Response:
        return Response(b"{}", status_code=503)

    utility = Utility(tmp_path)
    with serve_in_thread(app) as base:
        utility.configure(connected=True, authority_url=base, authority_token="t")
        upstream = utility.upstream()
        upstream.backoff = 0.0
        with pytest.raises(CommunicationError, match="HTTP 503"):
            utility._exchange(b"{}", None)
        assert utility.status()["upstream_errors"] == 1
        assert not upstream.closed
        utility.close()
        assert upstream.closed
