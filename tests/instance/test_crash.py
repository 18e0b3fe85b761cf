"""Kill the instance at named points during report close, ACK install and policy install
(``os._exit`` in a child process, like a power cut), restart, and check that nothing was lost
and nothing counted twice."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from smartlic.core import xmlfile
from smartlic.core.errors import ReplayError
from smartlic.instance import Agent, ManualClock
from smartlic.instance.store import FAULT_ENV, FAULT_EXIT
from tests.instance.mini_authority import UDI, MiniAuthority

ROOT = Path(__file__).resolve().parents[2]


def _child(state: Path, fault: str, *args: str) -> int:
    env = {**os.environ, "CRASH_AT": fault}
    env.pop(FAULT_ENV, None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.instance.crash_worker", str(state), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


def _check_consistent(agent: Agent) -> None:
    """One OPEN report per license in use; chains link both ways; counters add up."""
    open_reports = agent.reports("OPEN")
    in_use = [u for u in agent.licenses_in_use() if u.status == "IN USE"]
    assert sorted(r.report_id for r in open_reports) == sorted(u.open_report for u in in_use)
    by_id = {r.report_id: r for r in agent.reports()}
    for report in by_id.values():
        if report.previous_report_id:
            assert by_id[report.previous_report_id].next_report_id == report.report_id
    summary = agent.usage_summary()
    assert summary.total == summary.acknowledged + summary.unacknowledged
    assert summary.mia == 0


@pytest.fixture
def prepared(
    make_agent: Callable[..., Agent], clock: ManualClock, tmp_path: Path
) -> tuple[Path, int]:
    agent = make_agent()
    agent.use("network-advantage")
    agent.use("dna-advantage", 2)
    clock.advance(3600)
    agent.close_reports()
    clock.advance(3600)
    agent.close()
    return tmp_path / "state", clock.now()


@pytest.mark.parametrize("point", ["close.mid", "close.end", "close.committed"])
def test_crash_during_report_close(
    prepared: tuple[Path, int], make_agent: Callable[..., Agent], point: str
) -> None:
    state, now = prepared
    assert _child(state, point, "close", str(now)) == FAULT_EXIT
    agent = make_agent(state)  # restart: open reports close with reason Reload
    _check_consistent(agent)
    reasons = Counter(r.close_reason for r in agent.reports("CLOSED"))
    # before: 2 closed by report time; the child's start closed 2 (Reload); its close either
    # committed 2 more (report time) or nothing; this restart closed 2 (Reload).
    if point == "close.committed":
        assert reasons == {"CurrentUsageRequested": 4, "Reload": 4}
    else:
        assert reasons == {"CurrentUsageRequested": 2, "Reload": 4}
    assert agent.usage_summary().total == sum(reasons.values())


@pytest.mark.parametrize("point", ["ack.mid", "ack.end", "ack.committed"])
def test_crash_during_ack_install(
    prepared: tuple[Path, int],
    make_agent: Callable[..., Agent],
    authority: MiniAuthority,
    tmp_path: Path,
    point: str,
) -> None:
    state, now = prepared
    agent = make_agent(state)
    envelopes = [e for _, e in agent.unacked_reports()]
    n = len(envelopes)
    agent.close()
    ack_file = tmp_path / "ack.xml"
    ack_file.write_bytes(xmlfile.write([authority.make_ack(UDI, envelopes)]))
    assert _child(state, point, "import", str(now), str(ack_file)) == FAULT_EXIT
    agent = make_agent(state)
    _check_consistent(agent)
    if point == "ack.committed":
        assert agent.usage_summary().acknowledged == n
        with pytest.raises(ReplayError):
            agent.import_file(ack_file)
    else:
        assert agent.usage_summary().acknowledged == 0  # all or nothing
        assert agent.import_file(ack_file).installed == ["ACK"]
    assert agent.usage_summary().acknowledged == n
    assert agent.usage_state().last_ack_at is not None
    _check_consistent(agent)


@pytest.mark.parametrize("point", ["policy.mid", "policy.end", "policy.committed"])
def test_crash_during_policy_install(
    prepared: tuple[Path, int],
    make_agent: Callable[..., Agent],
    authority: MiniAuthority,
    tmp_path: Path,
    point: str,
) -> None:
    state, now = prepared
    first = tmp_path / "p1.xml"
    first.write_bytes(xmlfile.write([authority.make_policy(serial=1)]))
    agent = make_agent(state)
    agent.import_file(first)
    agent.close()
    authority.now += 60
    second = tmp_path / "p2.xml"
    second.write_bytes(xmlfile.write([authority.make_policy(serial=2, days=30)]))
    assert _child(state, point, "import", str(now), str(second)) == FAULT_EXIT
    agent = make_agent(state)
    grant = agent.policy_grant
    assert grant is not None  # never left without the old or the new policy
    if point == "policy.committed":
        assert grant.policy.serial == 2
    else:
        assert grant.policy.serial == 1
        agent.import_file(second)
        assert agent.policy_grant.policy.serial == 2
    active = agent.store.scalar("SELECT COUNT(*) FROM artifacts WHERE kind='policy' AND active=1")
    assert active == 1


def test_no_fault_means_a_clean_exit(prepared: tuple[Path, int]) -> None:
    state, now = prepared
    assert _child(state, "none", "close", str(now)) == 0
