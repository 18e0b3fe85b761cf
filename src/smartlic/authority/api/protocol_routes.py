"""``POST /cslu/v1/pi[/<tenant>]`` and ``POST /licservice/license``: core.protocol over HTTP."""

from __future__ import annotations

import asyncio
import functools
import os
import weakref

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response as HttpResponse

from smartlic.authority.api.common import Problem, bearer_of, log_fields, read_body
from smartlic.authority.endpoint import UNKNOWN_MESSAGE, ProtocolService
from smartlic.core.errors import OversizedError
from smartlic.core.protocol import Response, http_status_for

router = APIRouter(tags=["product instances"])

BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "responses": {"200": {"content": {"application/json": {"schema": {"type": "object"}}}}},
}


def _limiter(request: Request) -> anyio.CapacityLimiter:
    """The threads for protocol messages (``Settings.protocol_threads``), one set per event
    loop: a limiter belongs to the loop it was made in, and tests run one app in several."""
    state = request.app.state
    limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter]
    limiters = state.protocol_limiters
    loop = asyncio.get_running_loop()
    limiter = limiters.get(loop)
    if limiter is None:
        wanted = state.settings.protocol_threads or os.cpu_count() or 1
        limiter = limiters[loop] = anyio.CapacityLimiter(wanted)
    return limiter


async def _answer(request: Request, tenant: str | None) -> HttpResponse:
    service: ProtocolService = request.app.state.protocol
    route = request.scope.get("route")
    log_fields(request)["route"] = getattr(route, "path", request.url.path)
    try:
        body = await read_body(request, request.app.state.settings.max_body)
    except Problem as exc:
        log_fields(request)["code"] = exc.code
        response = Response.from_error(UNKNOWN_MESSAGE, OversizedError(exc.detail))
    else:
        client = request.client.host if request.client else "unknown"
        work = functools.partial(
            service.handle,
            body,
            tenant=tenant,
            bearer=bearer_of(request),
            client=client,
            fields=log_fields(request),
        )
        response = await anyio.to_thread.run_sync(work, limiter=_limiter(request))
    headers = {}
    if response.retry_after is not None:
        headers["Retry-After"] = str(response.retry_after)
    return HttpResponse(
        response.to_bytes(),
        status_code=http_status_for(response),
        media_type="application/json",
        headers=headers,
    )


@router.post("/cslu/v1/pi", openapi_extra=BODY, summary="Product-instance messages (utility)")
async def cslu(request: Request) -> HttpResponse:
    return await _answer(request, None)


@router.post(
    "/cslu/v1/pi/{tenant}", openapi_extra=BODY, summary="Product-instance messages for a tenant"
)
async def cslu_tenant(tenant: str, request: Request) -> HttpResponse:
    return await _answer(request, tenant)


@router.post(
    "/licservice/license", openapi_extra=BODY, summary="Product-instance messages (smart transport)"
)
async def licservice(request: Request) -> HttpResponse:
    return await _answer(request, None)
