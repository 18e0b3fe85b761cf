"""Maintenance (reference §7.2) and identity: ``clear_eventlog``, ``factory_reset`` (durable,
one transaction), ``set_hostname`` (persisted, in new RUM reports), the ``callhome`` and
``automatic`` transports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smartlic.core import sysmsg
from smartlic.core.artifacts import RumReport
from smartlic.core.errors import ConfigurationError
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.base import DEFAULT_CALLHOME_URL, DEFAULT_CSLU_URL
from tests.instance.mini_authority import UDI, MiniAuthority

HOUR = 3600


@pytest.fixture
def online(agent: Agent, served: str) -> Agent:
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    return agent


def _licensed(online: Agent, clock: ManualClock, authority: MiniAuthority) -> Agent:
    """Trust, a custom policy from an ACK, an authorization code, reports sent and ACKed."""
    authority.policy = authority.make_policy()
    online.trust_idtoken("good-token")
    online.use("hseck9")
    online.authorization_request("add", "hseck9", "local")
    online.use("network-advantage")
    clock.advance(HOUR)
    assert online.sync().acked >= 1
    return online


def test_clear_eventlog_empties_the_event_log_only(agent: Agent) -> None:
    agent.use("network-advantage")
    assert agent.eventlog()
    syslog = len(agent.syslog())
    agent.clear_eventlog()
    assert agent.eventlog() == []
    assert len(agent.syslog()) == syslog  # the system log is not the licensing event log
    agent.use("network-advantage", 2)
    assert len(agent.eventlog()) == 1  # logging goes on


def test_factory_reset_wipes_licensing_data_and_keeps_identity(
    online: Agent, clock: ManualClock, authority: MiniAuthority, make_agent: Callable[..., Agent]
) -> None:
    agent = _licensed(online, clock, authority)
    assert agent.trust_code() is not None and agent.authorization_codes()
    assert agent.policy.name == "Custom Policy" and agent.usage_state().last_ack_at is not None
    key_id, anchor, udi = agent.key.key_id, agent.store.get("anchor"), agent.udi
    config = agent.config
    last_id = max(r.report_id for r in agent.reports())
    agent.factory_reset()

    def check(a: Agent) -> None:
        assert a.trust_code() is None and a.trust_codes() == {}
        assert a.authorization_codes() == []
        assert a.policy_grant is None and a.policy.name == a.default_policy.name
        assert a.message_history() == [] and a.comm_stats() == []
        reporting = a.usage_reporting()
        assert reporting.last_ack_received is None and reporting.last_report_push is None
        assert reporting.next_ack_push_check is None
        # identity, key, anchor and configuration stay
        assert (a.udi, a.key.key_id, a.store.get("anchor")) == (udi, key_id, anchor)
        assert a.config == config and a.verifier is not None
        # licenses in use go on with fresh reports; report ids never repeat
        reports = a.reports()
        assert [r.state for r in reports if r.state != "CLOSED"] == ["OPEN"]  # (+ Reload)
        assert min(r.report_id for r in reports) > last_id
        # hseck9 needs its authorization code, now gone: only network-advantage reports
        assert {r.license for r in reports} == {"network-advantage"}
        assert any("SAEVT_FACTORY_RESET" in e.line for e in a.eventlog())

    check(agent)
    assert agent.syslog("AGENT_READY")[-1].at_ms == clock.now_ms()  # re-enabled, as at a reload
    state = agent.store.folder
    agent.close()
    check(make_agent(state))  # durable


def test_factory_reset_is_one_transaction(
    online: Agent, clock: ManualClock, authority: MiniAuthority, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = _licensed(online, clock, authority)
    before = (agent.trust_code(), len(agent.authorization_codes()), len(agent.reports()))
    real = agent.store.delete
    calls: list[str] = []

    def failing(key: str) -> None:
        calls.append(key)
        if len(calls) == 5:
            raise OSError("disk gone")  # midway: artifacts and reports already deleted
        real(key)

    monkeypatch.setattr(agent.store, "delete", failing)
    with pytest.raises(OSError, match="disk gone"):
        agent.factory_reset()
    monkeypatch.setattr(agent.store, "delete", real)
    after = (agent.trust_code(), len(agent.authorization_codes()), len(agent.reports()))
    assert after == before  # all or nothing
    assert agent.usage_reporting().last_ack_received is not None


def test_set_hostname_is_persisted_and_in_new_reports(
    agent: Agent, clock: ManualClock, make_agent: Callable[..., Agent]
) -> None:
    agent.use("network-advantage")
    clock.advance(900)
    agent.set_hostname("core-7")
    assert agent.identity.hostname == "core-7" and agent.status().hostname == "core-7"
    agent.close_reports()
    newest = agent.reports("CLOSED")[-1].report_id
    report = RumReport.from_json(agent.report_envelope(newest).payload_json())
    assert report.hostname == "core-7"
    agent.configure(privacy_hostname=True)
    clock.advance(900)
    agent.close_reports()
    newest = agent.reports("CLOSED")[-1].report_id
    assert RumReport.from_json(agent.report_envelope(newest).payload_json()).hostname is None
    with pytest.raises(ConfigurationError):
        agent.set_hostname("two words")
    state = agent.store.folder
    agent.close()
    assert make_agent(state, identity=None).identity.hostname == "core-7"


@pytest.mark.parametrize(
    ("transport", "cslu_url", "effective"),
    [
        ("callhome", DEFAULT_CSLU_URL, "smart"),
        ("automatic", DEFAULT_CSLU_URL, "smart"),
        ("automatic", "http://cslu.example:8182/cslu/v1/pi", "cslu"),
        ("smart", DEFAULT_CSLU_URL, "smart"),
        ("off", DEFAULT_CSLU_URL, "off"),
    ],
)
def test_effective_transport(agent: Agent, transport: str, cslu_url: str, effective: str) -> None:
    config = agent.configure(transport=transport, cslu_url=cslu_url)
    assert config.effective_transport() == effective
    expected: dict[str, Any] = {
        "smart": DEFAULT_CALLHOME_URL if transport == "callhome" else config.smart_url,
        "cslu": cslu_url,
        "off": None,
    }
    assert config.endpoint_url() == expected[effective]
    assert agent.status().url == expected[effective]
    assert agent.status().transport == transport


def test_callhome_sends_smart_messages_to_the_callhome_url(
    agent: Agent, served: str, clock: ManualClock
) -> None:
    agent.configure(transport="callhome", callhome_url=f"{served}/licservice/license")
    agent.use("dna-advantage")
    clock.advance(HOUR)
    assert agent.sync().acked == 1
    assert agent.peer_name() == sysmsg.PEER_CSSM
    with pytest.raises(ConfigurationError):
        agent.configure(callhome_url="ftp://x")


def test_automatic_with_a_cslu_url_talks_to_the_utility(
    agent: Agent, served: str, clock: ManualClock
) -> None:
    agent.configure(transport="automatic", cslu_url=f"{served}/cslu/v1/pi")
    agent.use("network-advantage")
    clock.advance(HOUR)
    assert agent.sync().acked == 1
    assert agent.peer_name() == sysmsg.PEER_CSLU


def test_old_config_without_callhome_url_loads(tmp_path: Path, clock: ManualClock) -> None:
    agent = Agent.open(tmp_path / "s", Identity(UDI, "r1"), clock=clock)
    stored = agent.store.get("config") or agent.config.to_json()
    stored.pop("callhome_url", None)
    agent.store.put("config", stored)
    assert agent.config.callhome_url == DEFAULT_CALLHOME_URL
    agent.close()
