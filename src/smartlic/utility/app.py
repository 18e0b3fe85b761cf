"""The utility's HTTP face: ``POST /cslu/v1/pi[/<tenant>]``, ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from smartlic.core.errors import OversizedError
from smartlic.core.protocol import (
    MAX_MESSAGE_BYTES,
    PUSH_ENDPOINT_GET,
    Response,
    http_status_for,
)
from smartlic.utility.service import UNKNOWN_MESSAGE, Utility

log = logging.getLogger("smartlic.utility")
UNAVAILABLE = {"UNAVAILABLE", "COMM_FAILED"}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise OversizedError(f"request body is {declared} bytes, more than {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise OversizedError(f"request body is more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _http(response: Response) -> HttpResponse:
    status = http_status_for(response)
    if response.error_code in UNAVAILABLE:
        status = 503
    headers = {}
    if response.retry_after is not None:
        headers["Retry-After"] = str(response.retry_after)
    return HttpResponse(
        response.to_bytes(), status_code=status, media_type="application/json", headers=headers
    )


class _Metrics(Collector):
    """Read at scrape time from the state, so every process sees the same numbers."""

    def __init__(self, utility: Utility) -> None:
        self.utility = utility

    def collect(self) -> Iterator[Metric]:
        status = self.utility.status()
        for name, key, text in (
            ("smartlic_utility_instances", "instances", "Product instances known"),
            ("smartlic_utility_devices", "devices", "Devices in the pull inventory"),
            ("smartlic_utility_reports_waiting", "reports_waiting", "Reports not yet acked"),
            ("smartlic_utility_acks_undelivered", "acks_undelivered", "ACKs held, undelivered"),
        ):
            yield GaugeMetricFamily(name, text, value=status[key])
        yield GaugeMetricFamily(
            "smartlic_utility_connected",
            "1 when connected to the authority",
            value=1 if status["preferences"]["mode"] == "connected" else 0,
        )
        yield CounterMetricFamily(
            "smartlic_utility_upstream_errors",
            "Failed exchanges with the authority",
            value=status["upstream_errors"],
        )


def create_app(utility: Utility, *, max_body: int = MAX_MESSAGE_BYTES) -> FastAPI:
    app = FastAPI(title="smartlic utility (CSLU role)", docs_url=None, redoc_url=None)
    app.state.utility = utility
    registry = CollectorRegistry()
    registry.register(_Metrics(utility))

    async def answer(request: Request, tenant: str | None) -> HttpResponse:
        try:
            body = await _read_body(request, max_body)
        except OversizedError as exc:
            return _http(Response.from_error(UNKNOWN_MESSAGE, exc))
        response = await run_in_threadpool(utility.handle, body, tenant)
        return _http(response)

    @app.post("/cslu/v1/pi")
    async def cslu(request: Request) -> HttpResponse:
        return await answer(request, None)

    @app.post("/cslu/v1/pi/{tenant}")
    async def cslu_tenant(tenant: str, request: Request) -> HttpResponse:
        return await answer(request, tenant)

    @app.get("/cslu/v1/pi", include_in_schema=False)
    @app.get("/cslu/v1/pi/{tenant}", include_in_schema=False)
    def push_endpoint_get() -> HttpResponse:
        return JSONResponse(
            {"detail": PUSH_ENDPOINT_GET}, status_code=405, headers={"Allow": "POST"}
        )

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """A person who opens the utility's address lands on its console."""
        return RedirectResponse("/console/", status_code=307)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        utility.store.scalar("SELECT 1")
        return {"status": "ok", "mode": utility.preferences()["mode"]}

    @app.get("/metrics")
    def metrics() -> HttpResponse:
        return HttpResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    from smartlic.utility.console import mount as mount_console

    mount_console(app)  # the web console, /console, loopback only (docs/web.md)
    return app
