"""The real apps under uvicorn on loopback ports, and the system chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.app import create_app
from smartlic.authority.clock import FixedClock
from smartlic.authority.context import Authority
from smartlic.authority.db import make_engine, transaction
from smartlic.authority.keystore import KeyStore
from smartlic.authority.migrate import upgrade
from smartlic.authority.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ACCOUNT = "Example Corp"
USER = "alice"
PASSWORD = "correct horse battery"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class AuthorityWeb:
    base: str
    authority: Authority
    account_id: str
    va_id: str
    other_va_id: str


@contextlib.contextmanager
def authority_server(data: Path) -> Iterator[AuthorityWeb]:
    """A fresh authority (account, two VAs, purchases, an admin user) under uvicorn."""
    clock = FixedClock(int(time.time()))
    keys = KeyStore(data / "keys")
    keys.init(clock.now())
    engine = make_engine(f"sqlite:///{data / 'authority.db'}")
    upgrade(engine)
    authority = Authority(engine=engine, keys=keys, clock=clock)
    svc = AccountService(authority)
    with transaction(authority.sessions) as s:
        acct = svc.create_account(s, ACCOUNT)
        va = svc.create_va(s, acct.id, "Campus")
        lab = svc.create_va(s, acct.id, "Lab")
        svc.add_purchase(s, acct.id, va.id, "dna-advantage", 1)
        svc.add_purchase(s, acct.id, va.id, "network-advantage", 10)
        svc.add_purchase(s, acct.id, va.id, "mrp-client", 5)
        svc.create_user(s, acct.id, USER, PASSWORD, "admin")
        ids = (acct.id, va.id, lab.id)
    app = create_app(Settings(data=data), authority=authority)
    try:
        with serving(app) as base:
            yield AuthorityWeb(base, authority, *ids)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def authority_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthorityWeb]:
    with authority_server(tmp_path_factory.mktemp("authority")) as web:
        yield web


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("the Debian chromium package is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 820}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    """Screenshots always render (a page that cannot be drawn fails the test); they replace the
    ones in docs/images only when scripts/make_screenshots.py asks, so a test run leaves the
    tree clean."""
    folder = IMAGES if os.environ.get("SMARTLIC_WRITE_SCREENSHOTS") == "1" else None
    image = page.screenshot(full_page=False)
    assert image.startswith(b"\x89PNG")
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(image)
