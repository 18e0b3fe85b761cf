"""The authority's HTTP application: ``create_app(settings)``.

Routes: the product-instance endpoints (``/cslu/v1/pi[/<tenant>]``, ``/licservice/license``),
the REST API under ``/api/v1`` (problem+json errors), the public key sets, and ``/healthz``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartlic import __version__
from smartlic.authority import parallel_verify
from smartlic.authority.api import protocol_routes, rest, rest_files
from smartlic.authority.api.common import (
    Problem,
    log_fields,
    problem_response,
    status_for_error,
)
from smartlic.authority.api.schemas import Health
from smartlic.authority.clock import Clock
from smartlic.authority.context import Authority
from smartlic.authority.cssm import routes as cssm_routes
from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.ops import (
    Metrics,
    RateLimiter,
    configure_logging,
    log_refusal,
    log_request,
)
from smartlic.authority.settings import Settings
from smartlic.authority.uploads import routes as upload_routes
from smartlic.core import xmlfile
from smartlic.core.errors import SmartLicError
from smartlic.core.protocol import PUSH_ENDPOINT_GET, is_push_path

log = logging.getLogger("smartlic.authority")

GC_THRESHOLD = 10_000
"""Allocations between young collections in a worker (CPython's default: 700)."""


class RequestLog:
    """One JSON log line and one counter per request, the outermost layer under Starlette's
    error handling. A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (what
    ``@app.middleware`` makes) passes every request through a task group and memory streams,
    which cost a product instance's small request about as much as its SQL."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        # The fields routes add to (``log_fields``): request.state is scope["state"].
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": Request(scope).url.path,
            "client": client[0] if client else None,
        }
        scope.setdefault("state", {})["log_fields"] = fields
        started = time.perf_counter()
        status = 500  # unless an answer starts: an exception the error handler turns into 500
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            path = getattr(scope.get("route"), "path", "unmatched")
            fields["route"] = path
            self.metrics.http_requests.labels(path, str(status)).inc()
            fields.setdefault("account", None)
            fields.setdefault("code", None)
            log_request(
                {
                    **fields,
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
            )

        async def answered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log()  # before the last byte goes: a client that got its answer finds the line
            await send(message)

        try:
            await self.app(scope, receive, answered)
        finally:
            if not logged:
                log()


def create_app(
    settings: Settings, *, clock: Clock | None = None, authority: Authority | None = None
) -> FastAPI:
    if authority is None:
        authority = Authority.open(settings.url, settings.keys, clock)
    app = FastAPI(
        title="smartlic authority",
        version=__version__,
        description="The licensing authority (CSSM role): Smart Licensing Using Policy.",
    )
    app.state.settings = settings
    app.state.authority = authority
    metrics = Metrics()
    app.state.metrics = metrics
    app.state.token_limiter = RateLimiter(
        settings.token_per_minute, max(1, settings.token_per_minute // 3)
    )
    app.state.protocol = ProtocolService(
        authority,
        metrics=metrics,
        trust_limiter=RateLimiter(
            settings.trust_per_minute, max(1, settings.trust_per_minute // 3)
        ),
    )

    app.add_middleware(RequestLog, metrics=metrics)
    app.state.protocol_limiters = weakref.WeakKeyDictionary()  # api/protocol_routes._limiter

    def refuse(
        request: Request,
        status: int,
        title: str,
        detail: str,
        code: str,
        headers: Mapping[str, str] | None = None,
    ) -> JSONResponse:
        fields = log_fields(request)
        fields["code"] = code
        route = request.scope.get("route")
        log_refusal(
            {
                "account": fields.get("account"),
                "method": request.method,
                "route": getattr(route, "path", "unmatched"),
                "status": status,
                "code": code,
                "reason": detail,
            }
        )
        return problem_response(status, title, detail, code, headers)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return refuse(request, exc.status, exc.title, exc.detail, exc.code, exc.headers)

    @app.exception_handler(SmartLicError)
    async def _smartlic(request: Request, exc: SmartLicError) -> JSONResponse:
        status = status_for_error(exc)
        return refuse(request, status, type(exc).__name__, exc.reason, exc.code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
            for err in exc.errors()[:5]
        )
        return refuse(request, 422, "Unprocessable Entity", details, "MALFORMED")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        detail = str(exc.detail)
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request))
            if is_push_path(request.url.path):
                detail = PUSH_ENDPOINT_GET
        return refuse(request, exc.status_code, str(exc.detail), detail, "HTTP", headers)

    app.include_router(protocol_routes.router)
    app.include_router(rest.router)
    app.include_router(rest_files.router)
    app.include_router(upload_routes.router)
    app.include_router(cssm_routes.router)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=HttpResponse,
        responses={200: {"content": {"text/plain": {}}}},
    )
    def prometheus() -> HttpResponse:
        return HttpResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> Health:
        with authority.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return Health(status="ok", database="ok", keyset_version=authority.keyset().version)

    @app.get(
        "/api/v1/keysets",
        tags=["keys"],
        response_class=HttpResponse,
        responses={200: {"content": {"application/xml": {}}}},
    )
    def keysets() -> HttpResponse:
        """Every key set from the anchor (version 1) on, as a ``<smartLicense>`` file."""
        return HttpResponse(xmlfile.write(authority.chain()), media_type="application/xml")

    from smartlic.authority.portal import mount as mount_portal

    mount_portal(app)  # the web portal, /portal (docs/web.md)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """A person who opens the server's address lands on the portal (its sign-in page)."""
        return RedirectResponse("/portal/", status_code=307)

    return app


def _flat_routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            yield from _flat_routes(inner.routes)
        else:
            yield route


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's own 405 names only one)."""
    methods: set[str] = set()
    for route in _flat_routes(app.router.routes):
        for method in getattr(route, "methods", None) or ():
            match, _ = route.matches({**request.scope, "method": method})
            if match is Match.FULL:
                methods.add(method)
    methods.discard("HEAD")
    return sorted(methods)


def app_from_env() -> FastAPI:
    """The factory ``serve`` hands to uvicorn (one call per worker process)."""
    import os
    from pathlib import Path

    configure_logging()
    data = Path(os.environ.get("SMARTLIC_AUTHORITY_DATA", "smartlic-authority"))
    threads = os.environ.get("SMARTLIC_AUTHORITY_PROTOCOL_THREADS", "").strip()
    settings = Settings(
        data=data,
        db_url=os.environ.get("SMARTLIC_AUTHORITY_DB") or None,
        protocol_threads=int(threads) if threads.isdigit() else 0,
    )
    app = create_app(settings)
    tune_gc()
    parallel_verify.shared.start()
    app.router.lifespan_context = _stop_helpers_at_shutdown
    return app


@contextlib.asynccontextmanager
async def _stop_helpers_at_shutdown(app: FastAPI) -> AsyncIterator[None]:
    """Stop the verify helpers when uvicorn shuts the worker down. Exit handlers are not
    enough: after a graceful shutdown on SIGTERM, uvicorn raises the signal again, and the
    process dies of it without running them."""
    yield
    parallel_verify.shared.close()


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the ingest path of a worker process.

    What exists once the app is built (modules, routes, the engine: several hundred thousand
    objects) lives as long as the process: frozen, so no full collection walks it again. A
    batch of 2,000 reports allocates about a hundred thousand short-lived objects, which at the
    default threshold (700) cost a young collection every few reports; every 10,000 still
    collects cycles promptly. Measured in docs/benchmarks.md ("Authority ingest").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
