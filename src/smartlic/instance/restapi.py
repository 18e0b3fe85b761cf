"""The device REST API (``/smartlic-service``, HTTP Basic auth), as Cisco documents it for
custom tools and for utility-initiated collection (reference §7.6, clients.md §4.3).

Handlers are ``async`` and call the agent directly, so they run on the daemon's event loop, one
at a time, never concurrently with the scheduler.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from smartlic.core.errors import SmartLicError
from smartlic.core.protocol import HTTP_STATUS
from smartlic.core.timefmt import iso
from smartlic.instance.agent import Agent

BASE = "/smartlic-service"
MAX_IMPORT_BYTES = 16 * 1024 * 1024


def _error(exc: SmartLicError) -> JSONResponse:
    status = HTTP_STATUS.get(exc.code, 400)
    return JSONResponse(
        {"status": "ERROR", "code": exc.code, "message": exc.reason, "hint": exc.hint},
        status_code=status,
    )


def create_app(agent: Agent, username: str, password: str) -> FastAPI:
    """The REST API of one product instance, guarded by one Basic-auth user."""
    app = FastAPI(title="smartlic product instance REST API", docs_url=None, redoc_url=None)
    basic = HTTPBasic(realm="SLPAuth")

    def authorize(credentials: HTTPBasicCredentials = Depends(basic)) -> None:  # noqa: B008
        user_ok = secrets.compare_digest(credentials.username.encode(), username.encode())
        pass_ok = secrets.compare_digest(credentials.password.encode(), password.encode())
        if not (user_ok and pass_ok):
            raise HTTPException(
                status_code=401,
                detail="wrong username or password",
                headers={"WWW-Authenticate": 'Basic realm="SLPAuth"'},
            )

    guard = [Depends(authorize)]

    def usage_list(reports: list[tuple[int, Any]]) -> list[dict[str, Any]]:
        out = []
        for report_id, _ in reports:
            info = agent.report(report_id)
            assert info is not None
            out.append(
                {
                    "report_id": report_id,
                    "feature": info.license,
                    "state": info.state,
                    "start_time": iso(info.start_time),
                    "end_time": None if info.end_time is None else iso(info.end_time),
                }
            )
        return out

    @app.post(f"{BASE}/close-reports", dependencies=guard)
    async def close_reports() -> dict[str, Any]:
        closed = agent.close_reports()
        return {"status": "OK", "closed_reports": closed}

    @app.get(f"{BASE}/list", dependencies=guard)
    @app.get(f"{BASE}/list-reports", dependencies=guard)
    async def list_reports() -> dict[str, Any]:
        return {"usage_list": usage_list(agent.select_reports("all"))}

    @app.get(f"{BASE}/all-reports", dependencies=guard)
    async def all_reports() -> dict[str, Any]:
        selected = agent.select_reports("unacknowledged")
        agent.mark_collected([report_id for report_id, _ in selected])
        return {"usage": [envelope.to_json() for _, envelope in selected]}

    def by_days(n: int) -> dict[str, Any]:
        # The docs also document days/<rum-report-id>: a number past any day count is an id.
        if n > 36_500:
            selected = agent.select_reports("rum-id", rum_id=n)
        else:
            selected = agent.select_reports("days", days=n)
        agent.mark_collected([report_id for report_id, _ in selected])
        return {"usage": [envelope.to_json() for _, envelope in selected]}

    @app.get(f"{BASE}/days", dependencies=guard)
    async def days_default() -> Any:
        return by_days(90)

    @app.get(f"{BASE}/days/{{n}}", dependencies=guard)
    async def days(n: str) -> Any:
        if not n.isdigit():
            return JSONResponse(
                {"status": "ERROR", "code": "MALFORMED", "message": f"not a number of days: {n!r}"},
                status_code=400,
            )
        try:
            return by_days(int(n))
        except SmartLicError as exc:
            return _error(exc)

    @app.post(f"{BASE}/import", dependencies=guard)
    async def import_(request: Request) -> Any:
        body = await request.body()
        if not body.strip():
            return JSONResponse(
                {"status": "ERROR", "code": "MALFORMED", "message": "empty body: send the file"},
                status_code=400,
            )
        if len(body) > MAX_IMPORT_BYTES:
            return JSONResponse(
                {"status": "ERROR", "code": "OVERSIZED", "message": "body too large"},
                status_code=413,
            )
        try:
            result = agent.import_bytes(body)
        except SmartLicError as exc:
            return _error(exc)
        return {"status": "OK", "installed": result.installed, "message": result.summary()}

    served = [
        {"method": method, "path": route.path}
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith(BASE)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]

    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, Any]:
        """What a person who opens the device's address finds: what is served and how to ask.
        Nothing about the device itself, which needs the credentials."""
        return {
            "service": "smartlic product instance: device REST API (Smart Licensing Using Policy)",
            "authentication": "HTTP Basic (the device's user and password)",
            "endpoints": served,
        }

    return app
