"""Tenant isolation and roles, generated from the route tables (``/api/v1`` and the CSSM v2
surface): every route with an object id, called with another account's id, answers 404; every
changing route with a read-only token answers 403; a va-user sees only its virtual accounts
(404 for another VA's objects) and cannot change the smart account itself (403)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi.routing import APIRoute

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.api import rest, rest_files
from smartlic.authority.cssm import routes as cssm_routes
from smartlic.authority.db import transaction
from smartlic.authority.settings import Settings
from smartlic.authority.uploads import routes as upload_routes
from smartlic.core.protocol import Kind
from tests.authority.conftest import Server
from tests.authority.helpers import Device, World

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
    "/api/v1/users": {"username": "someone", "password": "long enough", "role": "read-only"},
    "/api/v1/transfers": {
        "from_va_id": "x",
        "to_va_id": "y",
        "license_name": "dna-advantage",
        "count": 1,
    },
    "/api/v1/login": {"account": "SA-Test", "username": "nobody", "password": "nothing"},
}
RAW_ROUTES = {"/api/v1/virtual-accounts/{va_id}/usage-files", "/api/v1/authorization-codes/return"}
SELF_ROUTES = {"/api/v1/login", "/api/v1/logout"}
"""Routes about the caller's own session: not changes to the account."""
ACCOUNT_ADMIN = {
    ("POST", "/api/v1/virtual-accounts"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/transfers"),
    ("POST", "/api/v1/virtual-accounts/{va_id}/purchases"),
}
"""Changes to the smart account itself: an account admin only (a va-user gets 403)."""
CSSM_BODY = {
    "/v2/devices/reportusage": {"data": {"reports": []}},
    "/v2/devices/authrequest": {"data": {"licenses": []}},
}


def api_routes() -> list[tuple[str, str]]:
    out = []
    for route in [*rest.router.routes, *rest_files.router.routes, *upload_routes.router.routes]:
        assert isinstance(route, APIRoute)
        for method in sorted(route.methods):
            out.append((method, route.path))
    return out


def cssm_api_routes() -> list[tuple[str, str]]:
    """Every CSSM-compatible route (both prefixes, schema or not) except the OAuth token."""
    out = []
    for route in cssm_routes.router.routes:
        assert isinstance(route, APIRoute)
        if "/v2/" not in route.path:
            continue
        for method in sorted(route.methods):
            out.append((method, route.path))
    return out


def usage_in(server: Server, token: str) -> str:
    """Report usage for a new device through a utility token; the instance id."""
    device = Device()
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(),))
    with server.client(token) as client:
        assert client.post("/cslu/v1/pi", content=req.to_bytes()).status_code == 200
        for inst in client.get("/api/v1/instances", params={"limit": 1000}).json()["items"]:
            if inst["udi"] == str(device.udi):
                return str(inst["id"])
    raise AssertionError("instance not listed")


def objects_in(server: Server, account_id: str, va_id: str) -> dict[str, str]:
    """An ID token, a product instance, an authorization code and a CSSM poll in one VA."""
    world = server.world
    svc = AccountService(world.authority)
    with transaction(world.authority.sessions) as s:
        token = svc.create_id_token(s, account_id, va_id)
        svc.add_purchase(s, account_id, va_id, "mrp-client", 1)
    admin = world.api_token(va_id, account=account_id)
    instance_id = usage_in(server, admin)
    with server.client(admin) as client:
        r = client.post(
            f"/api/v1/virtual-accounts/{va_id}/authorization-codes",
            json={"udi": "PID:C9300-24UX,SN:FCW0000Y001", "license_name": "mrp-client"},
        )
        assert r.status_code == 201, r.text
        poll = client.post("/v2/accounts/search").json()  # warm up; the token works here
        assert poll["status"] == "COMPLETE"
        submitted = client.post(
            "/v2/devices/reportusage",
            json={"data": {"reports": []}},
            headers={"X-CSW-VIRTUAL-ACCOUNT-ID": va_id},
        )
        assert submitted.status_code == 200, submitted.text
        # a refused file is still stored, so the account owns an upload row to probe
        refused = client.post(
            f"/api/v1/virtual-accounts/{va_id}/usage-files", content=b"<smartLicense/>"
        )
        assert refused.status_code >= 400 and refused.headers["X-Upload-Id"]
    return {
        "va_id": va_id,
        "token_id": token.row_id,
        "instance_id": instance_id,
        "code_id": r.json()["code_id"],
        "poll_id": submitted.json()["poll_id"],
        "upload_id": refused.headers["X-Upload-Id"],
    }


def call(server: Server, token: str, method: str, template: str, path: str) -> httpx.Response:
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
    return r


def test_every_object_route_hides_other_accounts(server: Server) -> None:
    world = server.world
    ids = objects_in(server, world.other_account_id, world.other_account_va_id)
    mine = world.api_token()
    checked = 0
    for method, path in api_routes():
        params = re.findall(r"{(\w+)}", path)
        if not params:
            continue
        url = path.format(**{p: ids[p] for p in params})
        status = call(server, mine, method, path, url).status_code
        assert status == 404, f"{method} {path} answered {status} for another account's object"
        checked += 1
    assert checked >= 12


def cssm_call(
    server: Server, token: str, method: str, path: str, va_id: str, poll_id: str
) -> httpx.Response:
    tail = path[path.index("/v2/") :]
    headers = {"X-CSW-VIRTUAL-ACCOUNT-ID": va_id}
    body = CSSM_BODY.get(tail, {"data": {"poll_id": poll_id}})
    with server.client(token) as client:
        if method == "GET":
            return client.get(path, headers=headers)
        return client.post(path, json=body, headers=headers)


def test_cssm_routes_hide_other_accounts(server: Server) -> None:
    """The CSSM v2 surface: another account's virtual account or poll id answers 404, and a
    search never shows another account."""
    world = server.world
    ids = objects_in(server, world.other_account_id, world.other_account_va_id)
    mine = world.api_token()
    checked = 0
    for method, path in cssm_api_routes():
        r = cssm_call(server, mine, method, path, ids["va_id"], ids["poll_id"])
        if path.endswith("/v2/accounts/search"):
            assert r.status_code == 200
            assert world.other_account_id not in r.text and ids["va_id"] not in r.text
        else:
            assert r.status_code == 404, f"{method} {path} answered {r.status_code}: {r.text}"
        checked += 1
    assert checked >= 8


def test_every_changing_route_needs_admin(server: Server) -> None:
    world = server.world
    reader = world.api_token(role="read-only")
    ids = {
        "va_id": world.va_id,
        "token_id": "x",
        "instance_id": "x",
        "code_id": "x",
        "upload_id": "x",
    }
    checked = 0
    for method, path in api_routes():
        if method == "GET" or path in SELF_ROUTES:
            continue
        url = path.format(**{p: ids[p] for p in re.findall(r"{(\w+)}", path)})
        status = call(server, reader, method, path, url).status_code
        assert status == 403, f"{method} {path} answered {status} to a read-only token"
        checked += 1
    for method, path in cssm_api_routes():
        if path.endswith(("/v2/devices/reportusage", "/v2/devices/authrequest")):
            r = cssm_call(server, reader, method, path, world.va_id, "x")
            assert r.status_code == 403, f"{method} {path} answered {r.status_code}"
            checked += 1
    assert checked >= 14


def va_user_session(server: Server, world: World) -> str:
    with transaction(world.authority.sessions) as s:
        AccountService(world.authority).create_user(
            s, world.account_id, "ops-one", "correct horse", "va-user", va_ids=[world.va_id]
        )
    with server.client() as client:
        r = client.post(
            "/api/v1/login",
            json={"account": "SA-Test", "username": "ops-one", "password": "correct horse"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["va_ids"] == [world.va_id]
    return str(r.json()["token"])


def test_va_user_sees_only_its_virtual_accounts(server: Server) -> None:
    world = server.world
    ids = objects_in(server, world.account_id, world.other_va_id)  # VA-Two, same account
    session = va_user_session(server, world)
    checked = 0
    for method, path in api_routes():
        if path in SELF_ROUTES or path == "/api/v1/accounts":
            continue
        params = re.findall(r"{(\w+)}", path)
        if (method, path) in ACCOUNT_ADMIN:
            url = path.format(**dict.fromkeys(params, world.va_id))
            status = call(server, session, method, path, url).status_code
            assert status == 403, f"{method} {path} answered {status} to a va-user"
        elif params:
            url = path.format(**{p: ids[p] for p in params})
            status = call(server, session, method, path, url).status_code
            assert status == 404, f"{method} {path} answered {status} for another VA's object"
        else:
            continue
        checked += 1
    for method, path in cssm_api_routes():
        if not path.endswith("/v2/accounts/search"):
            r = cssm_call(server, session, method, path, ids["va_id"], "none")
            assert r.status_code == 404, f"{method} {path} answered {r.status_code}"
            checked += 1
    with server.client(session) as client:
        listed = client.get("/api/v1/instances").json()
        vas = client.get("/api/v1/virtual-accounts").json()
        codes = client.get("/api/v1/authorization-codes").json()
    assert all(i["va_id"] == world.va_id for i in listed["items"])
    assert [v["id"] for v in vas["items"]] == [world.va_id] and vas["total"] == 1
    assert codes["total"] == 0
    assert checked >= 16


def test_settings_are_used(tmp_path: Any) -> None:
    assert Settings(data=tmp_path).url.startswith("sqlite:///")
