"""HA sets: a trust code and authorization codes per UDI (Active, Standby, Members), one request
per UDI signed with the instance key; only the Active meters and reports, and every RUM report
lists the set in ``meta.ha_udi``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smartlic.core.artifacts import Account, RumReport
from smartlic.core.errors import AccountMismatchError, AlreadyInstalledError
from smartlic.core.udi import HaSet, Udi
from smartlic.instance import Agent, Identity, ManualClock
from tests.instance.mini_authority import UDI, MiniAuthority

STANDBY = Udi.parse("PID:C9300-24U,SN:FHH2043P09E")
MEMBER = Udi.parse("PID:C9300-48T,SN:FCW2139L056")
HA = HaSet.parse(f"Active:{UDI};Standby:{STANDBY};Member:{MEMBER}")
HOUR = 3600


def _texts(agent: Agent, mnemonic: str) -> list[str]:
    """The message texts without the ``%SMART_LIC-n-NAME: `` prefix."""
    return [entry.text.split(": ", 1)[1] for entry in agent.syslog(mnemonic)]


@pytest.fixture
def stack(make_agent: Callable[..., Agent], served: str) -> Agent:
    agent = make_agent(identity=Identity(UDI, "stack-1", ha=HA))
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    return agent


def test_trust_all_installs_a_code_per_udi(stack: Agent, authority: MiniAuthority) -> None:
    result = stack.trust_idtoken("good-token", "all")
    assert result.status == "OK" and result.failed == ()
    assert result.installed.count("trust code") == 3
    assert authority.trusted == [UDI, STANDBY, MEMBER]  # one request per UDI
    assert set(stack.trust_codes()) == {UDI, STANDBY, MEMBER}
    for udi in (UDI, STANDBY, MEMBER):
        code = stack.trust_code(udi)
        assert code is not None and code.udi == udi and code.public_key == stack.key.public
    lines = stack.trust_lines()
    assert lines[0] == "Trust Code Installed:"
    assert lines[1] == f"  Active: {UDI}"
    assert lines[2].startswith("    INSTALLED on ") and lines[2].endswith(" UTC")
    assert lines[3] == f"  Standby: {STANDBY}"
    assert lines[5] == f"  Member: {MEMBER}"
    assert [e.role for e in stack.trust_status()] == ["Active", "Standby", "Member"]
    assert _texts(stack, "TRUST_INSTALL_SUCCESS") == [
        f"A new licensing trust code was successfully installed on {udi}."
        for udi in (UDI, STANDBY, MEMBER)
    ]
    status = stack.status()
    assert [t.role for t in status.trust] == ["Active", "Standby", "Member"]
    assert status.ha_udis == (f"Active:{UDI}", f"Standby:{STANDBY}", f"Member:{MEMBER}")
    # again without force: every UDI refuses on its own, nothing is sent
    with pytest.raises(AlreadyInstalledError):
        stack.trust_idtoken("good-token", "all")
    failures = _texts(stack, "TRUST_CODE_INSTALL_FAILED")
    assert failures == [
        "The install of a new licensing trust code has failed on "
        f"{udi}: Trust code is already installed."
        for udi in (UDI, STANDBY, MEMBER)
    ]
    assert len(authority.trusted) == 3
    # force renews every one
    assert stack.trust_idtoken("good-token", "all", force=True).installed.count("trust code") == 3
    assert len(stack.trust_codes()) == 3


def test_trust_all_after_local_gets_the_missing_members(
    stack: Agent, authority: MiniAuthority
) -> None:
    stack.trust_idtoken("good-token", "local")
    assert stack.trust_lines()[2] != "    NOT INSTALLED"
    assert stack.trust_lines()[4] == "    NOT INSTALLED"
    result = stack.trust_idtoken("good-token", "all")
    assert result.installed.count("trust code") == 2
    assert result.failed == (f"{UDI}: Trust code is already installed",)
    assert authority.trusted == [UDI, STANDBY, MEMBER]


def test_trust_all_one_member_in_another_account(stack: Agent, authority: MiniAuthority) -> None:
    authority.placed[STANDBY] = Account("SA-Other", "VA-Other")
    result = stack.trust_idtoken("good-token", "all")
    assert result.failed == (f"{STANDBY}: Smart Account-Virtual Account mismatch",)
    assert set(stack.trust_codes()) == {UDI, MEMBER}
    line = stack.syslog("TRUST_CODE_INSTALL_FAILED")[-1].text
    assert line.endswith(f"on {STANDBY}: Smart Account-Virtual Account mismatch.")
    # a standalone trust on the mismatching member alone raises
    authority.placed[UDI] = Account("SA-Other", "VA-Other")
    authority.placed[MEMBER] = Account("SA-Other", "VA-Other")
    with pytest.raises(AccountMismatchError):
        stack.trust_idtoken("good-token", "all", force=True)


def test_only_the_active_reports_and_rum_lists_the_set(
    stack: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    stack.trust_idtoken("good-token", "all")
    stack.use("network-advantage")
    clock.advance(HOUR)
    result = stack.sync()
    assert result.sent_reports == 1 and result.acked == 1
    ((udi, report_id),) = authority.stored
    assert udi == UDI
    envelope = stack.report_envelope(report_id)
    assert envelope is not None
    assert envelope.signature.signing_type.value == "trust"
    report = RumReport.from_json(envelope.payload_json())
    assert report.udi == UDI and report.ha == HA
    assert envelope.payload_json()["meta"]["ha_udi"] == [
        {"role": "Active", "sudi": UDI.to_sudi()},
        {"role": "Standby", "sudi": STANDBY.to_sudi()},
        {"role": "Member", "sudi": MEMBER.to_sudi()},
    ]


def test_authorization_all_per_udi_then_return(
    stack: Agent, authority: MiniAuthority, clock: ManualClock
) -> None:
    stack.trust_idtoken("good-token", "all")
    authority.purchased["hseck9"] = 3
    stack.use("hseck9")
    code = stack.authorization_request("add", "hseck9", "all")
    assert code.udi == UDI
    assert authority.requested == [UDI, STANDBY, MEMBER]
    assert {c.udi for c in stack.authorization_codes()} == {UDI, STANDBY, MEMBER}
    assert [c.udi for c in stack.authorization_codes(STANDBY)] == [STANDBY]
    assert stack.licenses_in_use()[0].status == "IN USE"
    assert _texts(stack, "AUTHORIZATION_INSTALL_SUCCESS") == [
        f"A new licensing authorization code was successfully installed on: {udi}."
        for udi in (UDI, STANDBY, MEMBER)
    ]
    entries = stack.authorization_status()
    assert [(e.role, e.udi) for e in entries] == [
        ("Active", UDI),
        ("Standby", STANDBY),
        ("Member", MEMBER),
    ]
    assert all(e.licenses == (("hseck9", 1),) for e in entries)
    assert entries[1].lines()[1].startswith("      Status: SMART AUTHORIZATION INSTALLED on ")
    # local returns the Active's code only
    clock.advance(60)
    assert len(stack.authorization_return("local", "online")) == 1
    assert stack.licenses_in_use()[0].status == "NOT AUTHORIZED"
    assert stack.authorization_status()[0].lines()[1] == "      Status: NOT INSTALLED"
    returned = stack.authorization_return("all", "online")
    assert len(returned) == 2
    assert stack.authorization_codes() == []
    assert authority.purchased["hseck9"] == 3  # every count freed, once
    assert _texts(stack, "AUTHORIZATION_REMOVED")[-2:] == [
        f"A licensing authorization code has been removed from {udi}" for udi in (STANDBY, MEMBER)
    ]


def test_a_standby_code_does_not_authorize_the_active(
    stack: Agent, authority: MiniAuthority
) -> None:
    stack.use("hseck9")
    stack.install_authorization(authority.make_slac(STANDBY))
    assert stack.licenses_in_use()[0].status == "NOT AUTHORIZED"
    stack.install_authorization(authority.make_slac(UDI))
    assert stack.licenses_in_use()[0].status == "IN USE"


def test_authorization_all_failing_on_one_member(stack: Agent, authority: MiniAuthority) -> None:
    authority.purchased["hseck9"] = 2
    stack.use("hseck9")
    with pytest.raises(Exception, match="1 requested, 0 available"):
        stack.authorization_request("add", "hseck9", "all")
    assert {c.udi for c in stack.authorization_codes()} == {UDI, STANDBY}
    failed = stack.syslog("AUTHORIZATION_INSTALL_FAILED")[-1].text
    assert f"failed on {MEMBER}: 1 requested, 0 available" in failed
    assert stack.licenses_in_use()[0].status == "IN USE"


def test_save_trust_request_all_holds_one_request_per_udi(stack: Agent, tmp_path) -> None:
    from smartlic.core import xmlfile
    from smartlic.core.artifacts import TrustRequest

    stack.save_trust_request(tmp_path / "trust.xml", "all")
    requests = [
        TrustRequest.from_json(e.payload_json())
        for e in xmlfile.read((tmp_path / "trust.xml").read_bytes())
    ]
    assert [r.udi for r in requests] == [UDI, STANDBY, MEMBER]
    assert {r.public_key for r in requests} == {stack.key.public}


def test_standalone_trust_lines(agent: Agent) -> None:
    assert agent.trust_lines() == ["Trust Code Installed: <none>"]
    assert agent.status().ha_udis == ()


def test_sync_all_fetches_what_the_members_lack(
    stack: Agent, authority: MiniAuthority, clock: ManualClock
) -> None:
    stack.trust_idtoken("good-token", "all")
    offline = authority.make_slac(STANDBY)  # made at the authority for the Standby
    authority.pending_slacs[STANDBY] = [offline]
    clock.advance(HOUR)
    assert stack.sync("local").installed == ()
    assert authority.hellos == [UDI]
    assert stack.authorization_codes() == []
    result = stack.sync("all")
    assert result.installed == ("authorization code",) and result.failed == ()
    assert authority.hellos[1:] == [UDI, STANDBY, MEMBER]
    assert [c.udi for c in stack.authorization_codes()] == [STANDBY]
    # nothing new: the code is not furnished again
    clock.advance(HOUR)
    assert stack.sync("all").installed == ()


def test_dual_supervisor_chassis_is_one_instance(
    make_agent: Callable[..., Agent], served: str, authority: MiniAuthority, clock: ManualClock
) -> None:
    """A C9400 with two supervisors lists the chassis UDI as Active and Standby: `trust all`
    sends one request, `show license udi` prints both lines like the device does, and the RUM
    report carries both members."""
    from smartlic.instance.shell.render import show_udi

    chassis = HaSet.parse(f"Active:{UDI};Standby:{UDI}")
    agent = make_agent(identity=Identity(UDI, "c9407r-1", ha=chassis))
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    result = agent.trust_idtoken("good-token", "all")
    assert result.status == "OK" and result.failed == ()
    assert authority.trusted == [UDI]
    assert set(agent.trust_codes()) == {UDI}
    shown = show_udi(agent)
    assert f"Active:{UDI}" in shown and f"Standby:{UDI}" in shown
    agent.use("network-advantage")
    clock.advance(HOUR)
    assert agent.sync().acked == 1
    ((udi, report_id),) = authority.stored
    assert udi == UDI
    envelope = agent.report_envelope(report_id)
    assert envelope is not None
    assert RumReport.from_json(envelope.payload_json()).ha == chassis
