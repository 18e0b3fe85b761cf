"""``authorization return ... online``: each code is either still installed or removed, never
half; a failure midway leaves the confirmed ones removed and the rest installed; a crash between
the authority's confirmation and the removal is healed by the next return (the same return code
sent again), and no count is freed twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smartlic.core.errors import CommunicationError, SignatureMismatchError
from smartlic.core.udi import HaSet, Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.store import FAULT_EXIT
from tests.instance.mini_authority import UDI, MiniAuthority
from tests.instance.test_crash import _child

STANDBY = Udi.parse("PID:C9300-24U,SN:FHH2043P09E")
MEMBER = Udi.parse("PID:C9300-48T,SN:FCW2139L056")
HA = HaSet.parse(f"Active:{UDI};Standby:{STANDBY};Member:{MEMBER}")


@pytest.fixture
def stack(make_agent: Callable[..., Agent], served: str, authority: MiniAuthority) -> Agent:
    agent = make_agent(identity=Identity(UDI, "stack-1", ha=HA))
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    agent.trust_idtoken("good-token", "all")
    authority.purchased["hseck9"] = 3
    agent.use("hseck9")
    agent.authorization_request("add", "hseck9", "all")
    assert len(agent.authorization_codes()) == 3
    return agent


def _udis(agent: Agent) -> set[Udi]:
    return {code.udi for code in agent.authorization_codes()}


def test_refusal_midway_keeps_the_rest_installed(stack: Agent, authority: MiniAuthority) -> None:
    authority.returns_before_failure = 1
    with pytest.raises(SignatureMismatchError):
        stack.authorization_return("all", "online")
    assert _udis(stack) == {STANDBY, MEMBER}  # the Active's return was confirmed
    assert stack.pending_returns() == {}  # a refusal returned nothing: nothing pending
    assert authority.purchased["hseck9"] == 1
    assert len(stack.syslog("AUTHORIZATION_REMOVED")) == 1
    authority.returns_before_failure = None
    assert len(stack.authorization_return("all", "online")) == 2
    assert stack.authorization_codes() == [] and authority.purchased["hseck9"] == 3


def test_comm_failure_midway_leaves_the_return_pending(
    stack: Agent, authority: MiniAuthority
) -> None:
    authority.fail_after = 1
    with pytest.raises(CommunicationError):
        stack.authorization_return("all", "online")
    assert _udis(stack) == {STANDBY, MEMBER}
    pending = stack.pending_returns()
    (code_id,) = pending
    assert authority.issued[code_id][2] == STANDBY
    status = {entry.udi: entry for entry in stack.authorization_status()}
    assert status[STANDBY].return_pending and not status[MEMBER].return_pending
    assert "      Return: pending confirmation" in status[STANDBY].lines()
    authority.fail_after = None
    returned = stack.authorization_return("all", "online")
    assert returned[0].payload == pending[code_id].payload  # the same return code, sent again
    assert stack.authorization_codes() == [] and stack.pending_returns() == {}
    assert authority.purchased["hseck9"] == 3 and len(authority.returned) == 3


@pytest.mark.parametrize("point", ["return.confirmed", "return.mid", "return.committed"])
def test_crash_during_an_online_return(
    stack: Agent,
    make_agent: Callable[..., Agent],
    authority: MiniAuthority,
    clock: ManualClock,
    tmp_path: Path,
    point: str,
) -> None:
    state = tmp_path / "state"
    stack.close()
    assert _child(state, point, "return", str(clock.now()), "local") == FAULT_EXIT
    assert len(authority.returned) == 1  # the authority freed the Active's count
    again = make_agent(state)
    if point == "return.committed":
        assert _udis(again) == {STANDBY, MEMBER} and again.pending_returns() == {}
        assert again.licenses_in_use()[0].status == "NOT AUTHORIZED"
    else:
        # the removal did not commit: still installed (and metering), its return pending
        assert _udis(again) == {UDI, STANDBY, MEMBER}
        assert list(again.pending_returns()) == authority.returned
        assert again.licenses_in_use()[0].status == "IN USE"
        # the next return sends the same return code; "already returned" confirms it
        assert len(again.authorization_return("local", "online")) == 1
        assert _udis(again) == {STANDBY, MEMBER} and again.pending_returns() == {}
        assert again.licenses_in_use()[0].status == "NOT AUTHORIZED"
    assert authority.purchased["hseck9"] == 1  # freed once, never twice
    assert len(authority.returned) == 1
