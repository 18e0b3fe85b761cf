"""The console's inventory in the system chromium: push instances with status, last contact
and last ACK, for an instance whose report waits (disconnected) and one acknowledged through
the authority (connected)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.db import transaction
from smartlic.core import xmlfile
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.utility.app import create_app as utility_app
from smartlic.utility.inventory import last_acks, push_instances
from smartlic.utility.service import Utility
from tests.web.conftest import AuthorityWeb, serving, shot


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, Utility]]:
    utility = Utility(tmp_path / "utility")
    with serving(utility_app(utility)) as base:
        yield base, utility
    utility.close()


def pusher(tmp_path: Path, web: AuthorityWeb, serial: str, cslu_url: str) -> Agent:
    agent = Agent.open(
        tmp_path / serial,
        Identity(Udi.parse(f"PID:C9300-24UX,SN:{serial}"), hostname=f"sw-{serial.lower()}"),
        clock=ManualClock(int(time.time())),
        anchor=web.authority.chain()[0],
    )
    agent.configure(transport="cslu", cslu_url=cslu_url)
    agent.use("network-advantage", 1)
    agent.clock.advance(1800)
    return agent


def row_of(page: Any, udi: str) -> list[str]:
    cells = page.locator("#push-instances tr", has_text=udi).locator("td").all_inner_texts()
    return [c.strip() for c in cells]


def test_push_instances_with_last_ack(
    page: Any, console: tuple[str, Utility], authority_web: AuthorityWeb, tmp_path: Path
) -> None:
    base, utility = console
    cslu = f"{base}/cslu/v1/pi"
    page.goto(f"{base}/console/")
    assert "No product instance has pushed" in page.inner_text("#push-instances")

    # Disconnected: the report is kept, waiting for an ACK.
    waiting = pusher(tmp_path, authority_web, "FCW0000W001", cslu)
    waiting.sync()
    page.reload()
    row = row_of(page, "SN:FCW0000W001")
    assert row[1] == "sw-fcw0000w001"
    assert row[2].endswith("waiting for an ACK")
    assert row[3] != "—" and row[4] == "—"

    # Connected: the next instance's report goes to the authority and its ACK comes back.
    with transaction(authority_web.authority.sessions) as s:
        api_token = (
            AccountService(authority_web.authority)
            .create_api_token(s, authority_web.account_id, va_id=authority_web.va_id, role="admin")
            .token
        )
    utility.configure(
        connected=True,
        authority_url=authority_web.base,
        authority_token=api_token,
        account="Example Corp",
        va="Campus",
        authority_keys=xmlfile.write(authority_web.authority.chain()),
    )
    acked = pusher(tmp_path, authority_web, "FCW0000A002", cslu)
    assert acked.sync().status == "OK"
    assert acked.usage_summary().waiting_for_ack == 0
    page.reload()
    row = row_of(page, "SN:FCW0000A002")
    assert row[2] == "acknowledged"
    assert row[4] != "—" and row[4].startswith(time.strftime("%Y-", time.gmtime()))
    assert row_of(page, "SN:FCW0000W001")[4] == "—"
    assert "Last ACK" in page.inner_text("#devices-form thead")
    shot(page, "console-push-instances")

    # The service answers the same as the page.
    shown, total = push_instances(utility.store)
    assert total == 2
    by_udi = {p.udi: p for p in shown}
    udi = "PID:C9300-24UX,SN:FCW0000A002"
    assert by_udi[udi].last_ack == last_acks(utility.store, [udi])[udi]
    assert by_udi["PID:C9300-24UX,SN:FCW0000W001"].waiting == 1
    waiting.close()
    acked.close()
