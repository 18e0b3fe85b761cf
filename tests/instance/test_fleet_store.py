"""The fleet store: many agents in one SQLite database, each confined to its own rows, each
state change still one transaction (a power cut in one agent's change leaves the others whole)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from smartlic.core import xmlfile
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.fleet_store import FleetSqlError, FleetStore, scope_sql
from smartlic.instance.store import FAULT_ENV, FAULT_EXIT, Store
from tests.instance.mini_authority import OTHER_UDI, UDI, MiniAuthority

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600

# A power cut in the middle of agent OTHER_UDI's ACK install, while UDI's state sits in the
# same database: ``python -c CHILD FOLDER ACK_FILE NOW``.
CHILD = """
import os, sys
from pathlib import Path
from smartlic.instance import Agent, ManualClock
from smartlic.instance.fleet_store import FleetStore
from smartlic.instance.store import FAULT_ENV
folder, ack, now = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
fleet = FleetStore(folder)
udi = fleet.udis()[1]
agent = Agent.open(folder / "b", store=fleet.scope(udi, folder / "b"), clock=ManualClock(now))
os.environ[FAULT_ENV] = "ack.mid"
agent.import_file(ack)
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetStore]:
    store = FleetStore(tmp_path / "fleet")
    yield store
    store.close()


@pytest.fixture
def pair(
    fleet: FleetStore, clock: ManualClock, authority: MiniAuthority, tmp_path: Path
) -> Iterator[tuple[Agent, Agent]]:
    agents = [
        Agent.open(
            tmp_path / name,
            Identity(udi, name),
            store=fleet.scope(str(udi), tmp_path / name),
            clock=clock,
            anchor=authority.anchor,
        )
        for name, udi in (("a", UDI), ("b", OTHER_UDI))
    ]
    yield agents[0], agents[1]
    if not fleet.closed:
        for agent in agents:
            agent.close()


def _script(
    agent: Agent, clock: ManualClock, authority: MiniAuthority, folder: Path
) -> list[object]:
    """A day in the life of an instance; what it returns is everything one can observe."""
    seen: list[object] = []
    agent.use("network-advantage")
    agent.use("dna-advantage", 2)
    for _ in range(4):
        clock.advance(HOUR)
        agent.tick()
    agent.close_reports()
    policy = folder / "policy.xml"
    policy.write_bytes(xmlfile.write([authority.make_policy()]))
    agent.import_file(policy)
    ack = folder / "ack.xml"
    ack.write_bytes(
        xmlfile.write([authority.make_ack(UDI, [e for _, e in agent.unacked_reports()])])
    )
    agent.import_file(ack)
    agent.release("dna-advantage")
    clock.advance(HOUR)
    agent.tick()
    # ACK ids are random: the rest of each report must match
    seen += [[replace(r, ack_id=None) for r in agent.reports()], agent.usage_summary()]
    seen.append(agent.licenses_in_use())
    seen.append([e.text for e in agent.syslog()])
    seen.append([re.sub(r'ackId="\w+"', "", e.line) for e in agent.eventlog()])
    seen.append(agent.status().to_json())
    agent.factory_reset()
    seen += [agent.reports(), agent.usage_summary(), agent.policy_grant]
    return seen


def test_a_fleet_agent_behaves_as_a_standalone_one(
    pair: tuple[Agent, Agent], authority: MiniAuthority, tmp_path: Path
) -> None:
    a, b = pair
    clock = a.clock
    assert isinstance(clock, ManualClock)
    alone = Agent.open(
        tmp_path / "alone", Identity(UDI, "a"), clock=ManualClock(clock.now()),
        anchor=authority.anchor,
    )  # fmt: skip
    b.use("dna-advantage", 3)  # a neighbour with state of its own, in the same tables
    clock.advance(HOUR)
    b.close_reports()
    before = (b.reports(), b.usage_summary(), b.licenses_in_use(), b.syslog(), b.eventlog())
    assert isinstance(alone.clock, ManualClock)
    alone.clock.advance(HOUR)
    try:
        expected = _script(alone, alone.clock, authority, tmp_path)
    finally:
        alone.close()
    assert _script(a, clock, authority, tmp_path) == expected
    assert (b.reports(), b.usage_summary(), b.licenses_in_use(), b.syslog(), b.eventlog()) == before
    assert b.usage_summary().total == 1 and b.policy_grant is None


def test_agents_never_see_each_others_rows(
    pair: tuple[Agent, Agent], clock: ManualClock, authority: MiniAuthority, tmp_path: Path
) -> None:
    a, b = pair
    a.use("network-advantage")
    b.use("dna-advantage", 3)
    clock.advance(HOUR)
    a.close_reports()
    assert [u.name for u in a.licenses_in_use()] == ["network-advantage"]
    assert [(u.name, u.count) for u in b.licenses_in_use()] == [("dna-advantage", 3)]
    assert {r.license for r in a.reports()} == {"network-advantage"}
    assert {r.license for r in b.reports()} == {"dna-advantage"}
    assert (a.usage_summary().total, b.usage_summary().total) == (1, 0)
    assert a.identity.hostname == "a" and b.identity.hostname == "b"
    assert a.key.key_id != b.key.key_id
    policy = tmp_path / "policy.xml"
    policy.write_bytes(xmlfile.write([authority.make_policy()]))
    a.import_file(policy)
    assert a.policy.name == "Custom Policy" and b.policy_grant is None
    b.factory_reset()  # deletes every artifact and report of b, nothing of a
    assert a.policy.name == "Custom Policy" and a.usage_summary().total == 1
    b.clear_eventlog()
    assert a.eventlog() and not b.eventlog()
    assert a.syslog("POLICY_INSTALL_SUCCESS") and not b.syslog("POLICY_INSTALL_SUCCESS")


def test_a_reopened_fleet_gives_each_agent_its_state(
    pair: tuple[Agent, Agent], fleet: FleetStore, clock: ManualClock, tmp_path: Path
) -> None:
    a, b = pair
    a.use("network-advantage")
    a_key, b_key = a.key.key_id, b.key.key_id
    a.close()
    b.close()
    fleet.close()
    again = FleetStore(tmp_path / "fleet")
    try:
        reopened = Agent.open(tmp_path / "a", store=again.scope(str(UDI), tmp_path / "a"))
        assert reopened.key.key_id == a_key and reopened.identity.hostname == "a"
        assert [u.name for u in reopened.licenses_in_use()] == ["network-advantage"]
        other = Agent.open(tmp_path / "b", store=again.scope(str(OTHER_UDI), tmp_path / "b"))
        assert other.key.key_id == b_key and other.licenses_in_use() == []
        assert again.udis() == [str(UDI), str(OTHER_UDI)]
    finally:
        again.close()
    with pytest.raises(Exception, match="closed"):
        fleet.db.execute("SELECT 1")
    assert not (tmp_path / "a" / "instance.db").exists()  # no file per agent
    assert oct((tmp_path / "fleet" / "fleet.db").stat().st_mode & 0o777) == "0o600"


def test_a_crash_in_one_agents_change_leaves_the_other_whole(
    pair: tuple[Agent, Agent], fleet: FleetStore, clock: ManualClock, authority: MiniAuthority,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = pair
    for agent in (a, b):
        agent.use("network-advantage")
    clock.advance(HOUR)
    a.close_reports()
    b.close_reports()
    before_a = {r.report_id: r for r in a.reports() if r.state == "CLOSED"}
    ack = tmp_path / "ack.xml"
    ack.write_bytes(
        xmlfile.write([authority.make_ack(OTHER_UDI, [e for _, e in b.unacked_reports()])])
    )
    for agent in (a, b):
        agent.close()
    fleet.close()
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "fleet"), str(ack), str(clock.now())],
        cwd=ROOT, env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == FAULT_EXIT, done.stderr
    again = FleetStore(tmp_path / "fleet")
    try:
        a2 = Agent.open(tmp_path / "a", store=again.scope(str(UDI), tmp_path / "a"), clock=clock)
        b2 = Agent.open(
            tmp_path / "b", store=again.scope(str(OTHER_UDI), tmp_path / "b"), clock=clock
        )
        after_a = {r.report_id: r for r in a2.reports()}
        assert before_a and all(after_a[i] == r for i, r in before_a.items())
        assert b2.usage_summary().acknowledged == 0  # the cut ACK install left nothing
        assert b2.import_file(ack).installed == ["ACK"]
        assert b2.usage_summary().acknowledged == 1
        assert a2.usage_summary().acknowledged == 0
    finally:
        again.close()


def test_batch_commits_many_agents_at_once(fleet: FleetStore, tmp_path: Path) -> None:
    udis = [Udi.parse(f"PID:C9300-24UX,SN:FCW23{i:04d}Y") for i in range(3)]

    def cut_after_creating() -> None:
        with fleet.batch():
            for udi in udis:
                scoped = fleet.scope(str(udi), tmp_path)
                Agent.open(tmp_path / str(udi), Identity(udi), store=scoped)
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        cut_after_creating()
    assert fleet.udis() == []  # the batch is all or nothing
    with fleet.batch():
        for udi in udis:
            Agent.open(tmp_path / str(udi), Identity(udi), store=fleet.scope(str(udi), tmp_path))
    assert fleet.udis() == [str(u) for u in udis]


def test_the_fleet_schema_follows_the_instance_schema(tmp_path: Path) -> None:
    """Every table an agent sees in a fleet has the columns of its own store, in order."""
    fleet = FleetStore(tmp_path / "fleet")
    single = Store(tmp_path / "single")
    try:
        scoped = fleet.scope(str(UDI), tmp_path / "a")
        for table in ("kv", "artifacts", "reports", "usage", "events", "syslog", "stats"):
            sql = f"SELECT * FROM {table}"  # noqa: S608 (fixed names)
            assert scoped.execute(sql).rows == []
            one = single.execute(sql).description
            assert one is not None
            got = fleet.db.execute(scope_sql(sql).replace("fleet_owner()", "0")).description
            assert [c[0] for c in got] == [c[0] for c in one]
    finally:
        single.close()
        fleet.close()


@pytest.mark.parametrize(
    "sql",
    [
        "PRAGMA table_info(kv)",
        "CREATE TABLE x (a)",
        "INSERT INTO kv VALUES ('a', 'b')",
        "INSERT INTO kv (key, value) SELECT key, value FROM kv",
        "DELETE FROM kv RETURNING key",
        "UPDATE nowhere SET a = 1",
        "SELECT * FROM fleet_kv",
        "SELECT name FROM sqlite_master",
        'SELECT * FROM "kv"',
        "SELECT * FROM kv JOIN fleet_keys ON 1",
    ],
)
def test_statements_it_cannot_confine_are_refused(
    fleet: FleetStore, sql: str, tmp_path: Path
) -> None:
    scoped = fleet.scope(str(UDI), tmp_path / "a")
    with pytest.raises(FleetSqlError):
        scoped.execute(sql)


def test_rows_are_fetched_before_another_agent_runs(
    fleet: FleetStore, tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    a = fleet.scope("A", tmp_path / "a")
    b = fleet.scope("B", tmp_path / "b")
    for i in range(50):
        a.put(f"k{i}", i)
    b.put("k0", "b")
    result = a.execute("SELECT key, value FROM kv ORDER BY key")
    b.put("k1", "b")  # runs between a's statement and a's reading of its rows
    assert len(result.fetchall()) == 50
    assert b.get("k0") == "b" and a.get("k0") == 0 and b.get("k2") is None
