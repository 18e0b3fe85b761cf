"""Fixtures: a fresh authority on a real SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from smartlic.authority.app import create_app
from smartlic.authority.clock import FixedClock
from smartlic.authority.context import Authority
from smartlic.authority.db import make_engine
from smartlic.authority.keystore import KeyStore
from smartlic.authority.migrate import upgrade
from smartlic.authority.settings import Settings
from tests.authority.helpers import T0, World

PG_ADMIN = os.environ.get(
    "SMARTLIC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _pg_available() -> bool:
    try:
        import psycopg

        dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_ok() -> bool:
    return _pg_available()


@pytest.fixture
def pg_url(pg_ok: bool) -> Iterator[str]:
    if not pg_ok:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is unreachable (CI=true: not skipping)")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is unreachable")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(PG_ADMIN)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'authority.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


_SQLITE_TEMPLATE: dict[str, Path] = {}


def _sqlite_template() -> Path:
    """One migrated SQLite file per test process; each test gets a copy (the migrations run
    once, not once per test: their batch table rebuilds are the slow part of a setup)."""
    if "path" not in _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="smartlic-authority-template-"))
        atexit.register(shutil.rmtree, folder, True)
        engine = make_engine(f"sqlite:///{folder / 'template.db'}")
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        _SQLITE_TEMPLATE["path"] = folder / "template.db"
    return _SQLITE_TEMPLATE["path"]


def make_authority(url: str, data: Path, clock: FixedClock) -> Authority:
    keys = KeyStore(data / "keys")
    keys.init(clock.now())
    target = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if target is not None and not Path(target).exists():
        shutil.copyfile(_sqlite_template(), target)
        engine = make_engine(url)
    else:
        engine = make_engine(url)
        upgrade(engine)
    return Authority(engine=engine, keys=keys, clock=clock)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def authority(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Authority]:
    auth = make_authority(db_url, tmp_path / "data", clock)
    yield auth
    auth.engine.dispose()


@pytest.fixture
def world(authority: Authority) -> World:
    return World.create(authority)


@dataclass
class Server:
    base: str
    world: World

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(app: Any, world: World) -> Iterator[Server]:
    """Run ``app`` under uvicorn on a free loopback port, in a thread."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(500):
        if srv.started:
            break
        time.sleep(0.01)
    assert srv.started, "uvicorn did not start"
    try:
        yield Server(f"http://127.0.0.1:{port}", world)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(world: World, tmp_path: Path) -> Iterator[Server]:
    """The real app under uvicorn on a loopback port."""
    app = create_app(Settings(data=tmp_path / "data"), authority=world.authority)
    with serving(app, world) as srv:
        yield srv
