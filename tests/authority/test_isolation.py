"""Tenant isolation, generated from the route table: every ``/api/v1`` route with an object id,
called with another account's id, answers 404; every changing route with a read-only token 403."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.api import rest, rest_files
from smartlic.authority.db import transaction
from smartlic.authority.settings import Settings
from smartlic.core.protocol import Kind
from tests.authority.conftest import Server
from tests.authority.helpers import Device

BODIES: dict[str, Any] = {
    "/api/v1/virtual-accounts/{va_id}/id-tokens": {"expires_days": 10},
    "/api/v1/virtual-accounts/{va_id}/purchases": {"license_name": "dna-advantage", "count": 1},
    "/api/v1/virtual-accounts/{va_id}/authorization-codes": {
        "udi": "PID:C9300-24UX,SN:FCW0000X001",
        "license_name": "mrp-client",
    },
    "/api/v1/virtual-accounts": {"name": "New VA"},
    "/api/v1/policies": {"name": "P"},
    "/api/v1/api-tokens": {"role": "read-only"},
    "/api/v1/accounts": {"name": "SA-New"},
}
RAW_ROUTES = {"/api/v1/virtual-accounts/{va_id}/usage-files", "/api/v1/authorization-codes/return"}


def api_routes() -> list[tuple[str, str]]:
    out = []
    for route in [*rest.router.routes, *rest_files.router.routes]:
        assert isinstance(route, APIRoute)
        for method in sorted(route.methods):
            out.append((method, route.path))
    return out


def other_objects(server: Server) -> dict[str, str]:
    """Objects of the *other* smart account."""
    world = server.world
    svc = AccountService(world.authority)
    with transaction(world.authority.sessions) as s:
        token = svc.create_id_token(s, world.other_account_id, world.other_account_va_id)
    device = Device()
    other_api = world.api_token(world.other_account_va_id, account=world.other_account_id)
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    with server.client(other_api) as client:
        assert client.post("/cslu/v1/pi", content=req.to_bytes()).status_code == 200
        (inst,) = client.get("/api/v1/instances").json()
    return {"va_id": world.other_account_va_id, "token_id": token.row_id, "instance_id": inst["id"]}


def call(server: Server, token: str, method: str, template: str, path: str) -> int:
    body = BODIES.get(template)
    with server.client(token) as client:
        if template in RAW_ROUTES:
            r = client.request(method, path, content=b"<smartLicense/>")
        elif body is not None and method == "POST":
            r = client.request(method, path, json=body)
        else:
            r = client.request(method, path)
    assert (
        r.headers["content-type"].split(";")[0]
        in (
            "application/problem+json",
            "application/json",
            "application/xml",
            "application/gzip",
            "text/csv",
        )
        or r.status_code == 204
    )
    return r.status_code


def test_every_object_route_hides_other_accounts(server: Server) -> None:
    ids = other_objects(server)
    mine = server.world.api_token()
    checked = 0
    for method, path in api_routes():
        params = re.findall(r"{(\w+)}", path)
        if not params:
            continue
        url = path.format(**{p: ids[p] for p in params})
        status = call(server, mine, method, path, url)
        assert status == 404, f"{method} {path} answered {status} for another account's object"
        checked += 1
    assert checked >= 10


def test_every_changing_route_needs_admin(server: Server) -> None:
    world = server.world
    reader = world.api_token(role="read-only")
    ids = {"va_id": world.va_id, "token_id": "x", "instance_id": "x"}
    checked = 0
    for method, path in api_routes():
        if method == "GET":
            continue
        url = path.format(**{p: ids[p] for p in re.findall(r"{(\w+)}", path)})
        status = call(server, reader, method, path, url)
        assert status == 403, f"{method} {path} answered {status} to a read-only token"
        checked += 1
    assert checked >= 8


def test_settings_are_used(tmp_path: Any) -> None:
    assert Settings(data=tmp_path).url.startswith("sqlite:///")
