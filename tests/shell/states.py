"""Product instances in the states the shell tests render, built with real signed artifacts.

Each builder starts from a fresh state folder on a ``ManualClock`` at ``T0`` and uses the test
authority of ``tests.instance.mini_authority`` (real Ed25519 signatures made with core), moving
artifacts through files as an air-gapped device would. The same calls give the same output,
except for the random ids the authority puts in ACKs and codes (``normalize`` masks them).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from smartlic.core import xmlfile
from smartlic.core.udi import HaSet
from smartlic.instance import Agent, Identity, ManualClock
from tests.instance.mini_authority import DAY, T0, UDI, MiniAuthority

HA = HaSet.parse(
    "Active:PID:C9300-24UX,SN:FCW2303D16Y;Standby:PID:C9300-24U,SN:FOC2129Z02H;"
    "Member:PID:C9300-48T,SN:FCW2125L07Y"
)
HOUR = 3600


def _open(folder: Path, authority: MiniAuthority, ha: HaSet | None = None) -> Agent:
    return Agent.open(
        folder,
        Identity(UDI, "switch-1", ha=ha),
        clock=ManualClock(T0),
        anchor=authority.anchor,
    )


def _in_use(agent: Agent, count: int = 1) -> None:
    agent.use("network-advantage", count)
    agent.use("dna-advantage", count)
    agent.clock.advance(HOUR)


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _trust(agent: Agent, authority: MiniAuthority, folder: Path) -> None:
    request = folder / "trust-request.xml"
    agent.save_trust_request(str(request))
    envelope = xmlfile.read(request.read_bytes())[0]
    code = authority.make_trust_code(envelope, issued_at=agent.clock.now())
    agent.import_file(_write(folder, "trust-code.xml", xmlfile.write([code])))


def fresh(folder: Path, authority: MiniAuthority) -> Agent:
    """Cisco default policy, two licenses in use for an hour, nothing reported."""
    agent = _open(folder, authority)
    _in_use(agent)
    return agent


def trust(folder: Path, authority: MiniAuthority) -> Agent:
    """A trust code installed from a file; transport smart with a proxy and a VRF."""
    agent = _open(folder, authority)
    agent.configure(transport="smart", vrf="Mgmt-vrf", usage_interval_days=7)
    _in_use(agent)
    _trust(agent, authority, folder.parent)
    return agent


def waiting(folder: Path, authority: MiniAuthority) -> Agent:
    """Reports saved to a file (Waiting for Ack), transport off, hostname privacy."""
    agent = _open(folder, authority)
    agent.configure(transport="off", privacy_hostname=True)
    _in_use(agent)
    agent.save_usage(folder.parent / "usage.xml", "all")
    agent.clock.advance(HOUR)
    return agent


def policy(folder: Path, authority: MiniAuthority) -> Agent:
    """Usage saved, then the ACK imported with a custom policy in it."""
    agent = _open(folder, authority)
    agent.configure(transport="off")
    _in_use(agent)
    agent.save_usage(folder.parent / "usage.xml", "all")
    authority.now = agent.clock.now()
    reports = [envelope for _, envelope in agent.unacked_reports()]
    ack = authority.make_ack(UDI, reports, policy=authority.make_policy(days=60))
    agent.clock.advance(HOUR)
    agent.import_file(_write(folder.parent, "ack.xml", xmlfile.write([ack])))
    return agent


def slac(folder: Path, authority: MiniAuthority) -> Agent:
    """An authorization code for hseck9 installed from a file, hseck9 in use."""
    agent = _open(folder, authority)
    agent.configure(transport="off")
    authority.now = agent.clock.now()
    code = authority.make_slac(UDI, "hseck9", 1)
    agent.import_file(_write(folder.parent, "slac.xml", xmlfile.write([code])))
    agent.use("hseck9", 1)
    _in_use(agent)
    return agent


def ha(folder: Path, authority: MiniAuthority) -> Agent:
    """A stack of three (Active, Standby, Member) with trust installed; counts of 3."""
    agent = _open(folder, authority, HA)
    _in_use(agent, 3)
    _trust(agent, authority, folder.parent)
    agent.clock.advance(DAY)
    return agent


STATES: dict[str, Callable[[Path, MiniAuthority], Agent]] = {
    "fresh": fresh,
    "trust": trust,
    "waiting": waiting,
    "policy": policy,
    "slac": slac,
    "ha": ha,
}


def build(name: str, root: Path, authority: MiniAuthority | None = None) -> Agent:
    folder = root / name / "state"
    folder.parent.mkdir(parents=True, exist_ok=True)
    return STATES[name](folder, authority or MiniAuthority())


_RANDOM = re.compile(r"\b[0-9a-f]{8}(?:[0-9a-f]{8}){0,3}\b")


def normalize(text: str) -> str:
    """Mask the authority's random ids (ACK ids, confirmation codes) for golden comparison."""
    return _RANDOM.sub("<id>", text)
