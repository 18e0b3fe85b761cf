"""Users with roles (scrypt passwords, login sessions) and license transfers between VAs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from smartlic.authority.accounts.models import AuditEntry, Purchase, User
from smartlic.authority.accounts.service import (
    SESSION_SECONDS,
    AccountService,
    check_password,
    hash_password,
)
from smartlic.authority.app import create_app
from smartlic.authority.authorization.service import AuthorizationService, purchased_count
from smartlic.authority.clock import FixedClock
from smartlic.authority.db import transaction
from smartlic.authority.endpoint import ProtocolService
from smartlic.authority.settings import Settings
from smartlic.core.errors import (
    ConfigurationError,
    CountExceededError,
    FormatError,
    SmartLicError,
    TokenError,
)
from smartlic.core.protocol import Kind
from tests.authority.conftest import Server, serving
from tests.authority.helpers import Device, World


def test_password_hash_is_salted_scrypt() -> None:
    one, two = hash_password("correct horse"), hash_password("correct horse")
    assert one.startswith("scrypt$16384$8$1$") and one != two  # per-user salt
    assert check_password("correct horse", one) and check_password("correct horse", two)
    assert not check_password("wrong horse", one)
    assert not check_password("x", "md5$abc")


def test_users_and_login(world: World, clock: FixedClock) -> None:
    svc = AccountService(world.authority)
    with transaction(world.authority.sessions) as s:
        user = svc.create_user(s, world.account_id, "alice", "s3cret-pass", "admin")
        assert user.password_hash != "s3cret-pass"
        with pytest.raises(ConfigurationError):
            svc.create_user(s, world.account_id, "alice", "s3cret-pass", "admin")
        for bad in (
            {"username": "bob", "password": "short", "role": "admin"},
            {"username": "bob", "password": "long enough", "role": "owner"},
            {"username": "bob", "password": "long enough", "role": "va-user"},  # needs a VA
            {"username": "b b", "password": "long enough", "role": "admin"},
        ):
            with pytest.raises(FormatError):
                svc.create_user(s, world.account_id, **bad)
    with transaction(world.authority.sessions) as s:
        new, _ = svc.login(s, "SA-Test", "alice", "s3cret-pass")
    with world.authority.sessions() as s:
        caller = svc.authenticate(s, new.token)
    assert caller is not None and caller.is_account_admin and caller.user == "alice"
    for account, name, password in (
        ("SA-Test", "alice", "wrong-pass"),
        ("SA-Test", "nobody", "s3cret-pass"),
        ("SA-Other", "alice", "s3cret-pass"),  # users are per smart account
        ("SA-None", "alice", "s3cret-pass"),
    ):
        with pytest.raises(TokenError), transaction(world.authority.sessions) as s:
            svc.login(s, account, name, password)
    clock.advance(SESSION_SECONDS)
    with world.authority.sessions() as s:
        assert svc.authenticate(s, new.token) is None  # the session expired
        entries = s.scalars(select(AuditEntry.action).where(AuditEntry.action.like("user.%")))
        assert set(entries) == {"user.create", "user.login"}
        assert s.scalar(select(User.username)) == "alice"


def test_roles_over_http(server: Server) -> None:
    world = server.world
    with transaction(world.authority.sessions) as s:
        svc = AccountService(world.authority)
        svc.create_user(s, world.account_id, "root", "root-pass-1", "admin")
        svc.create_user(s, world.account_id, "viewer", "viewer-pass", "read-only")
        svc.create_user(s, world.account_id, "ops", "ops-pass-1", "va-user", va_ids=[world.va_id])

    def login(name: str, password: str) -> str:
        with server.client() as client:
            r = client.post(
                "/api/v1/login",
                json={"account": "SA-Test", "username": name, "password": password},
            )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    with server.client() as client:
        bad = client.post(
            "/api/v1/login", json={"account": "SA-Test", "username": "root", "password": "nope"}
        )
    assert bad.status_code == 401 and bad.json()["code"] == "UNAUTHORIZED"
    admin, viewer, ops = (
        login("root", "root-pass-1"),
        login("viewer", "viewer-pass"),
        login("ops", "ops-pass-1"),
    )
    with server.client(admin) as client:
        r = client.post(
            "/api/v1/users",
            json={
                "username": "ops2",
                "password": "ops2-pass",
                "role": "va-user",
                "va_ids": [world.va_id, world.other_va_id],
            },
        )
        assert r.status_code == 201, r.text
        users = client.get("/api/v1/users").json()
        assert users["total"] == 4
        assert {u["username"] for u in users["items"]} == {"root", "viewer", "ops", "ops2"}
    with server.client(viewer) as client:
        assert client.get("/api/v1/instances").status_code == 200
        r = client.post(f"/api/v1/virtual-accounts/{world.va_id}/id-tokens", json={})
        assert r.status_code == 403
    with server.client(ops) as client:
        # its own VA: may create ID tokens and issue codes...
        r = client.post(f"/api/v1/virtual-accounts/{world.va_id}/id-tokens", json={})
        assert r.status_code == 201, r.text
        # ...but not touch the other VA, nor the smart account itself
        r = client.post(f"/api/v1/virtual-accounts/{world.other_va_id}/id-tokens", json={})
        assert r.status_code == 404
        assert client.post("/api/v1/virtual-accounts", json={"name": "X"}).status_code == 403
        assert client.post("/api/v1/policies", json={"name": "P"}).status_code == 403
        r = client.post("/api/v1/policies", json={"name": "P", "va_id": world.va_id})
        assert r.status_code == 201
        r = client.post("/api/v1/api-tokens", json={"role": "read-only"})
        assert r.status_code == 201  # limited to the user's one VA
        assert client.post("/api/v1/logout").status_code == 204
        assert client.get("/api/v1/instances").status_code == 401
    ops2 = login("ops2", "ops2-pass")
    with server.client(ops2) as client:
        vas = client.get("/api/v1/virtual-accounts").json()
        assert vas["total"] == 2
        # a user of two VAs must say which one a token is for
        assert client.post("/api/v1/api-tokens", json={"role": "read-only"}).status_code == 404


def test_transfer_moves_counts_and_keeps_issued(world: World) -> None:
    svc = AccountService(world.authority)
    now = world.authority.now()
    with transaction(world.authority.sessions) as s:
        moved = svc.transfer(
            s, world.account_id, world.va_id, world.other_va_id, "dna-advantage", 4
        )
        assert sum(p.count for p in moved) == 4
        assert purchased_count(s, world.account_id, world.va_id, "dna-advantage", now) == 6
        assert purchased_count(s, world.account_id, world.other_va_id, "dna-advantage", now) == 4
    # mrp-client: 2 purchased, 1 issued as an authorization code -> only 1 may leave
    device = Device()
    with transaction(world.authority.sessions) as s:
        AuthorizationService(world.authority).issue(
            s, world.account_id, world.va_id, device.udi, "mrp-client", 1
        )
    with pytest.raises(CountExceededError), transaction(world.authority.sessions) as s:
        svc.transfer(s, world.account_id, world.va_id, world.other_va_id, "mrp-client", 2)
    with transaction(world.authority.sessions) as s:
        svc.transfer(s, world.account_id, world.va_id, world.other_va_id, "mrp-client", 1)
        assert purchased_count(s, world.account_id, world.va_id, "mrp-client", now) == 1
        # the emptied purchase row is gone, the count lives on in the target
        rows = s.scalars(
            select(Purchase).where(
                Purchase.va_id == world.va_id, Purchase.license_name == "mrp-client"
            )
        ).all()
        assert [r.count for r in rows] == [1]
    # in use counts too: 6 dna-advantage left, 5 in use in the newest report -> 1 may leave
    req = device.request(Kind.USAGE_REPORT, reports=(device.rum(5),))
    assert (
        ProtocolService(world.authority).handle(req.to_bytes(), tenant=world.tenant).error_code
        is None
    )
    with pytest.raises(CountExceededError), transaction(world.authority.sessions) as s:
        svc.transfer(s, world.account_id, world.va_id, world.other_va_id, "dna-advantage", 2)
    for args in (
        (world.va_id, world.va_id, "dna-advantage", 1),  # same VA
        (world.va_id, world.other_account_va_id, "dna-advantage", 1),  # other smart account
        (world.va_id, world.other_va_id, "no-such-license", 1),
        (world.va_id, world.other_va_id, "dna-advantage", 0),
    ):
        with pytest.raises(SmartLicError), transaction(world.authority.sessions) as s:
            svc.transfer(s, world.account_id, *args)  # type: ignore[arg-type]
    with world.authority.sessions() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "license.transfer"))
        assert [a.detail for a in audited] == ["count=4", "count=1"]


def test_transfer_over_http(server: Server) -> None:
    world = server.world
    body = {
        "from_va_id": world.va_id,
        "to_va_id": world.other_va_id,
        "license_name": "hseck9",
        "count": 2,
    }
    with server.client(world.api_token()) as client:
        r = client.post("/api/v1/transfers", json=body)
        assert r.status_code == 201, r.text
        assert [p["count"] for p in r.json()["purchases"]] == [2]
        again = client.post("/api/v1/transfers", json=body)
        assert again.status_code == 409 and again.json()["code"] == "COUNT_EXCEEDED"
        target = client.get(f"/api/v1/virtual-accounts/{world.other_va_id}/purchases").json()
    assert [(p["license_name"], p["count"]) for p in target["items"]] == [("hseck9", 2)]
    with server.client(world.api_token(world.va_id)) as client:  # a VA-limited admin token
        assert client.post("/api/v1/transfers", json=body).status_code == 403


def test_logins_are_rate_limited(world: World, tmp_path: Path) -> None:
    # 6 a minute: bursts of 2 (a third), then one every 10 s
    settings = Settings(data=tmp_path / "data", token_per_minute=6)
    app = create_app(settings, authority=world.authority)
    body = {"account": "SA-Test", "username": "nobody", "password": "whatever"}
    with serving(app, world) as srv, srv.client() as client:
        codes = [client.post("/api/v1/login", json=body) for _ in range(2)]
        limited = client.post("/api/v1/login", json=body)
    assert [r.status_code for r in codes] == [401, 401]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
