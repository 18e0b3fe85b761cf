"""Clock changes, the asyncio scheduler with an injected sleep, and the Typer commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smartlic.core import xmlfile
from smartlic.core.timefmt import DAY
from smartlic.instance import Agent, ManualClock, SystemClock
from smartlic.instance.cli import app
from smartlic.instance.daemon import scheduler
from tests.instance.mini_authority import T0, MiniAuthority


def test_clock_set_emits_and_backwards_is_detected(
    agent: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    authority.now = T0 + 10 * DAY
    clock.advance(10 * DAY)
    agent.install_policy(authority.make_policy())
    agent.set_clock(T0 + 20 * DAY)
    assert [m.text for m in agent.syslog("SYSTEM_CLOCK_CHANGED")] == [
        "%SMART_LIC-5-SYSTEM_CLOCK_CHANGED: Smart Agent for Licensing System clock has been changed"
    ]
    assert not agent.clock_status().backwards
    agent.set_clock(T0)
    status = agent.clock_status()
    assert status.backwards and status.latest_signed_time == T0 + 10 * DAY
    assert status.detected_at == T0
    assert any("SAEVT_CLOCK_BACKWARDS" in e.line for e in agent.eventlog())
    assert agent.status().clock_backwards
    agent.set_clock(T0 + 30 * DAY)
    assert not agent.clock_status().backwards


def test_system_clock_offset_is_persisted(tmp_path: Path, authority: MiniAuthority) -> None:
    from smartlic.instance import Identity
    from tests.instance.mini_authority import UDI

    agent = Agent.open(tmp_path / "s", Identity(UDI), anchor=authority.anchor)
    assert isinstance(agent.clock, SystemClock)
    agent.set_clock(agent.clock.now() + 7 * DAY)
    agent.close()
    again = Agent.open(tmp_path / "s")
    assert isinstance(again.clock, SystemClock) and again.clock.offset >= 7 * DAY - 5
    again.close()


def test_scheduler_loop_with_injected_sleep(
    make_agent: Callable[..., Agent], clock: ManualClock
) -> None:
    agent = make_agent()
    agent.configure(transport="off")
    agent.use("dna-advantage")
    stop = asyncio.Event()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(max(1, int(seconds)))
        if clock.now() > T0 + 100 * DAY:
            stop.set()

    asyncio.run(scheduler(agent, max_sleep=DAY, sleep=fake_sleep, stop=stop))
    assert [m.text[-8:] for m in agent.syslog("REPORTING_REQUIRED")] == ["30 days.", " 0 days."]
    assert len(slept) >= 100


def test_status_command(
    make_agent: Callable[..., Agent], tmp_path: Path, clock: ManualClock
) -> None:
    agent = make_agent()
    agent.use("network-advantage")
    agent.close()
    runner = CliRunner()
    result = runner.invoke(app, ["status", "--state", str(tmp_path / "state")])
    assert result.exit_code == 0, result.output
    assert "UDI: PID:C9300-24UX,SN:FCW2303D16Y" in result.output
    assert "network-advantage (1): IN USE" in result.output
    assert "Total: 0,  Purged: 0(0)" in result.output
    result = runner.invoke(app, ["status", "--state", str(tmp_path / "state"), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["transport"] == "cslu" and data["summary"]["collecting"] == 1
    missing = runner.invoke(app, ["status", "--state", str(tmp_path / "nothing")])
    assert missing.exit_code == 1


def test_keyset_file_is_the_anchor(tmp_path: Path, authority: MiniAuthority) -> None:
    """``run --authority-keys`` reads the key set file the same way ``_open`` does here."""
    from smartlic.instance.cli import _open

    keys = tmp_path / "keys.xml"
    keys.write_bytes(xmlfile.write([authority.anchor]))
    agent = _open(tmp_path / "s", "PID:C9300-24UX,SN:FCW2303D16Y", "sw", keys)
    assert agent.verifier is not None and agent.verifier.version == 1
    agent.close()
