"""The inventory page stays fast with 100,000 product instances (SQL paging, no full load)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert

from smartlic.authority.trust.models import ProductInstance
from tests.web.conftest import ACCOUNT, PASSWORD, USER, authority_server

ROWS = 100_000


def test_inventory_pages_at_100k_instances(tmp_path: Path) -> None:
    with authority_server(tmp_path) as web:
        now = int(time.time())
        rows = [
            {
                "id": str(uuid.uuid4()),
                "account_id": web.account_id,
                "va_id": web.va_id if i % 2 else web.other_va_id,
                "udi": f"PID:C9300-24UX,SN:FCW{i:08d}",
                "hostname": f"sw-{i}",
                "first_seen": now,
                "last_report": now,
                "trusted": bool(i % 3),
                "trust_serial": 0,
                "allow_export": False,
            }
            for i in range(ROWS)
        ]
        with web.authority.engine.begin() as conn:
            conn.execute(insert(ProductInstance), rows)
        with httpx.Client(base_url=web.base, timeout=30) as client:
            login = client.get("/portal/login")
            assert login.status_code == 200
            signed = client.post(
                "/portal/login",
                data={
                    "csrf": client.cookies["slp_login_csrf"],
                    "account": ACCOUNT,
                    "username": USER,
                    "password": PASSWORD,
                },
            )
            assert signed.status_code == 303
            for url in (
                "/portal/inventory",
                "/portal/inventory?page=2000",
                f"/portal/inventory?va={web.va_id}&page=900",
                "/portal/inventory?q=PID:C9300-24UX,SN:FCW00054321",
            ):
                started = time.perf_counter()
                page = client.get(url, follow_redirects=True)
                elapsed = time.perf_counter() - started
                assert page.status_code == 200, page.text
                assert elapsed < 2.0, f"{url} took {elapsed:.2f}s"
            assert "FCW00054321" in page.text
            first = client.get("/portal/inventory")
            assert "100000 product instances" in first.text
            assert "page 1 of 2000" in first.text
