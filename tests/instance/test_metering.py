"""Metering: OPEN → CLOSED → ACK, chains per license, close reasons, counters, purge, signing."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

import pytest

from smartlic.core.artifacts import RumReport
from smartlic.core.errors import ConfigurationError, NotFoundError
from smartlic.instance import Agent, Identity, ManualClock
from tests.instance.mini_authority import UDI, MiniAuthority


def test_first_start_makes_a_private_key_file(agent: Agent) -> None:
    mode = stat.S_IMODE(os.stat(agent.store.key_path).st_mode)
    assert mode == 0o600
    assert len(agent.store.key_path.read_bytes()) == 32
    assert [m.mnemonic for m in agent.syslog()] == ["AGENT_READY", "AGENT_ENABLED"]


def test_restart_keeps_the_key_and_refuses_another_udi(
    agent: Agent, make_agent: Callable[..., Agent]
) -> None:
    key_id = agent.key.key_id
    agent.close()
    again = make_agent()
    assert again.key.key_id == key_id
    again.close()
    from smartlic.core.udi import Udi

    with pytest.raises(ConfigurationError, match="belongs to"):
        make_agent(identity=Identity(Udi.parse("PID:X,SN:Y")))


def test_reports_chain_per_license_and_close_on_change(agent: Agent, clock: ManualClock) -> None:
    agent.use("network-advantage")
    agent.use("dna-advantage")
    clock.advance(3600)
    agent.use("network-advantage", 3)
    clock.advance(1800)
    agent.release("network-advantage")
    reports = agent.reports()
    na = [r for r in reports if r.license == "network-advantage"]
    assert [r.state for r in na] == ["CLOSED", "CLOSED"]
    assert na[0].next_report_id == na[1].report_id
    assert na[1].previous_report_id == na[0].report_id
    assert [r.close_reason for r in na] == ["UsageChanged", "UsageChanged"]
    payload = RumReport.from_json(agent.report_envelope(na[0].report_id).payload_json())
    assert payload.measurements[0].num_samples == 4  # one hour of 15-minute samples
    assert payload.measurements[0].count == 1
    assert payload.signing_type.value == "builtin"
    second = RumReport.from_json(agent.report_envelope(na[1].report_id).payload_json())
    assert second.previous_report_id == na[0].report_id
    assert second.measurements[0].count == 3
    assert [u.name for u in agent.licenses_in_use()] == ["dna-advantage"]
    summary = agent.usage_summary()
    assert (summary.total, summary.collecting, summary.available_to_report) == (2, 1, 2)


def test_reload_closes_open_reports_and_reopens(
    agent: Agent, make_agent: Callable[..., Agent], clock: ManualClock
) -> None:
    agent.use("network-advantage", 2)
    first = agent.licenses_in_use()[0].open_report
    agent.close()
    clock.advance(900)
    again = make_agent()
    closed = again.report(first)
    assert closed is not None and closed.state == "CLOSED" and closed.close_reason == "Reload"
    use = again.licenses_in_use()[0]
    assert use.count == 2 and use.open_report != first
    assert again.report(use.open_report).previous_report_id == first


def test_counters_through_ack_and_purge(
    make_agent: Callable[..., Agent], authority: MiniAuthority, clock: ManualClock
) -> None:
    agent = make_agent(keep_acked=1)
    agent.use("network-advantage")
    for _ in range(3):
        clock.advance(900)
        agent.close_reports()
    summary = agent.usage_summary()
    assert (summary.total, summary.unacknowledged, summary.collecting) == (3, 3, 1)
    reports = agent.unacked_reports()
    agent.mark_collected([reports[0][0]])
    assert agent.usage_summary().waiting_for_ack == 1
    agent.install_ack(authority.make_ack(UDI, [e for _, e in reports]))
    summary = agent.usage_summary()
    assert summary.acknowledged == 3
    assert summary.purged == 2  # keep_acked=1: two older ACKed reports lose their payload
    assert summary.in_storage == 1
    assert summary.waiting_for_ack == 0 and summary.unacknowledged == 0
    assert summary.total == 3 and summary.mia == 0
    assert summary.lines()[2] == "Total: 3,  Purged: 2(0)"


def test_unknown_license_and_bad_count(agent: Agent) -> None:
    with pytest.raises(NotFoundError):
        agent.use("no-such-license")
    with pytest.raises(ConfigurationError):
        agent.use("network-advantage", -1)


def test_export_controlled_needs_an_authorization_code(
    agent: Agent, authority: MiniAuthority
) -> None:
    use = agent.use("hseck9")
    assert use.status == "NOT AUTHORIZED"
    assert agent.syslog("EXPORT_CONTROLLED")
    assert agent.reports() == []
    agent.install_authorization(authority.make_slac(UDI, "hseck9", 1))
    assert agent.licenses_in_use()[0].status == "IN USE"
    assert len(agent.reports("OPEN")) == 1
    assert agent.syslog("AUTHORIZATION_INSTALL_SUCCESS")
    # two in use is more than the code authorizes
    assert agent.use("hseck9", 2).status == "NOT AUTHORIZED"
    assert agent.reports("OPEN") == []


def test_reports_are_signed_trust_after_a_trust_code(
    agent: Agent, authority: MiniAuthority, tmp_path, clock: ManualClock
) -> None:
    agent.use("network-advantage")
    clock.advance(900)
    path = tmp_path / "req.xml"
    agent.save_trust_request(str(path))
    from smartlic.core import xmlfile

    request = xmlfile.read(path.read_bytes())[0]
    code = authority.make_trust_code(request)
    (tmp_path / "trust.xml").write_bytes(xmlfile.write([code]))
    result = agent.import_file(tmp_path / "trust.xml")
    assert result.installed == ["trust code"]
    assert agent.syslog("TRUST_INSTALL_SUCCESS")
    agent.close_reports()
    last = agent.reports("CLOSED")[-1]
    assert last.signing_type == "trust"
    envelope = agent.report_envelope(last.report_id)
    assert envelope.signature.signing_type.value == "trust"
    envelope.verify_with(agent.key.public)


def test_a_lost_key_file_is_refused(agent: Agent, make_agent: Callable[..., Agent]) -> None:
    path = agent.store.key_path
    agent.close()
    path.unlink()
    with pytest.raises(ConfigurationError, match="is missing"):
        make_agent()
