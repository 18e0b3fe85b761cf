"""Push over real HTTP to a loopback server answering with core-signed artifacts; faults from
the server (502) and from httpx.MockTransport (a dropped connection)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from smartlic.core import sysmsg, xmlfile
from smartlic.core.errors import (
    AccountMismatchError,
    AlreadyInstalledError,
    CommunicationError,
    ConfigurationError,
    CountExceededError,
    SignatureMismatchError,
    TimestampMismatchError,
)
from smartlic.core.keys import SigningKey
from smartlic.instance import Agent, ManualClock
from tests.instance.mini_authority import UDI, MiniAuthority

HOUR = 3600


@pytest.fixture
def online(agent: Agent, served: str) -> Agent:
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    return agent


def _failed_line(reason: str) -> str:
    return (
        "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code has "
        f"failed on {UDI}: {reason}."
    )


def test_sync_reports_usage_and_installs_the_ack(
    online: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    authority.policy = authority.make_policy()
    online.use("network-advantage")
    clock.advance(HOUR)
    result = online.sync()
    assert result.status == "OK" and result.sent_reports == 1 and result.acked == 1
    assert result.installed == ("ACK", "policy")
    assert online.policy.name == "Custom Policy"
    summary = online.usage_summary()
    assert (summary.acknowledged, summary.unacknowledged, summary.collecting) == (1, 0, 1)
    history = {m.operation: m for m in online.message_history()}
    assert '"kind":"usage_report"' in history["usage"].request
    stats = {s.operation: s for s in online.comm_stats()}
    assert (stats["usage"].attempts, stats["usage"].success, stats["usage"].fail) == (1, 1, 0)
    # a second sync with nothing new is a hello; the policy is not sent again
    clock.advance(1)
    assert online.sync().installed == ("ACK",)


def test_smart_transport_uses_the_smart_url(agent: Agent, served: str, clock: ManualClock) -> None:
    agent.configure(transport="smart", smart_url=f"{served}/licservice/license")
    agent.use("dna-advantage")
    clock.advance(HOUR)
    assert agent.sync().acked == 1
    assert agent.peer_name() == sysmsg.PEER_CSSM


def test_transport_off_refuses_to_sync(agent: Agent) -> None:
    agent.configure(transport="off")
    with pytest.raises(ConfigurationError, match="transport is off"):
        agent.sync()
    assert agent.next_report_push() is None


def test_ok_poll_then_result(online: Agent, clock: ManualClock, authority: MiniAuthority) -> None:
    authority.mode = "poll"
    online.use("network-advantage")
    clock.advance(HOUR)
    result = online.sync()
    assert result.status == "OK_POLL" and result.poll_at == clock.now() + 3600
    assert online.usage_summary().waiting_for_ack == 1
    clock.advance(1800)
    assert "poll" not in online.tick()
    clock.advance(1800)
    assert "poll" in online.tick()
    assert online.usage_summary().acknowledged == 1
    assert online.store.get("pending_poll") is None


def test_comm_failed_then_restored_without_duplicates(
    online: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    online.use("network-advantage")
    clock.advance(HOUR)
    authority.fail_next = 2
    with pytest.raises(CommunicationError, match="HTTP 502"):
        online.sync()
    clock.advance(HOUR)
    with pytest.raises(CommunicationError):
        online.sync()
    failed = online.syslog("COMM_FAILED")
    assert len(failed) == 2
    assert failed[0].text.startswith(
        f"%SMART_LIC-3-COMM_FAILED: Communications failure with the {sysmsg.PEER_CSLU} : HTTP 502"
    )
    assert online.usage_summary().unacknowledged == 2
    clock.advance(HOUR)
    result = online.sync()
    assert result.acked == 3
    assert [m.text for m in online.syslog("COMM_RESTORED")] == [
        f"%SMART_LIC-5-COMM_RESTORED: Communications with the {sysmsg.PEER_CSLU} restored"
    ]
    assert len(authority.received) == len(set(authority.received)) == 3
    stats = {s.operation: s for s in online.comm_stats()}["usage"]
    assert (stats.attempts, stats.success, stats.fail) == (3, 1, 2)


def test_dropped_connection_keeps_reports_and_resends_them_once(
    make_agent: Callable[..., Agent], clock: ManualClock, authority: MiniAuthority
) -> None:
    from smartlic.core.protocol import Request as Msg

    drop = {"on": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if drop["on"]:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, content=authority.answer(Msg.parse(request.content)).to_bytes())

    agent = make_agent(http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    agent.use("network-advantage")
    clock.advance(HOUR)
    assert agent.tick() == [
        "push failed: Fail to send out Call Home HTTP message. "
        "Server disconnected without sending a response."
    ]
    assert agent.next_report_push() == clock.now() + 4 * HOUR
    drop["on"] = False
    clock.advance(4 * HOUR)
    assert agent.tick() == ["push"]
    assert agent.usage_summary().acknowledged == 2
    assert sorted(authority.received) == sorted(set(authority.received))
    assert len(agent.syslog("COMM_RESTORED")) == 1


def test_replayed_report_is_refused_by_the_peer(
    online: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    online.use("network-advantage")
    clock.advance(HOUR)
    online.close_reports()
    report_id = online.unacked_reports()[0][0]
    authority.stored[(UDI, report_id)] = "f" * 64
    from smartlic.core.errors import ReplayError

    with pytest.raises(ReplayError):
        online.sync()
    assert online.usage_summary().acknowledged == 0


def test_trust_idtoken_success_then_already_installed(online: Agent) -> None:
    result = online.trust_idtoken("good-token", "local")
    assert "trust code" in result.installed
    assert online.trust_info().installed
    assert [m.text for m in online.syslog("TRUST_INSTALL_SUCCESS")] == [
        "%SMART_LIC-6-TRUST_INSTALL_SUCCESS: A new licensing trust code was successfully "
        f"installed on {UDI}."
    ]
    with pytest.raises(AlreadyInstalledError):
        online.trust_idtoken("good-token", "local")
    assert online.syslog("TRUST_CODE_INSTALL_FAILED")[-1].text == _failed_line(
        sysmsg.TRUST_ALREADY_INSTALLED
    )
    online.trust_idtoken("good-token", "local", force=True)
    assert len(online.syslog("TRUST_INSTALL_SUCCESS")) == 2


def test_trust_account_mismatch(online: Agent, authority: MiniAuthority) -> None:
    from smartlic.core.artifacts import Account

    authority.placed[UDI] = Account("SA-Other", "VA-Other")
    with pytest.raises(AccountMismatchError):
        online.trust_idtoken("good-token")
    assert online.syslog("TRUST_CODE_INSTALL_FAILED")[-1].text == _failed_line(
        sysmsg.SA_VA_MISMATCH
    )
    assert not online.trust_info().installed


def test_trust_signature_mismatch(online: Agent, authority: MiniAuthority) -> None:
    authority.signing = SigningKey.generate()
    with pytest.raises(SignatureMismatchError):
        online.trust_idtoken("good-token")
    assert online.syslog("TRUST_CODE_INSTALL_FAILED")[-1].text == _failed_line(
        sysmsg.SIGNATURE_MISMATCH
    )


def test_trust_timestamp_mismatch(
    online: Agent, clock: ManualClock, authority: MiniAuthority
) -> None:
    clock.advance(2 * HOUR)  # the instance clock runs two hours ahead of the authority's
    with pytest.raises(TimestampMismatchError):
        online.trust_idtoken("good-token")
    assert online.syslog("TRUST_CODE_INSTALL_FAILED")[-1].text == _failed_line(
        sysmsg.TIMESTAMP_MISMATCH
    )


def test_trust_request_file_roundtrip(agent: Agent, authority: MiniAuthority, tmp_path) -> None:
    path = tmp_path / "trust_request.xml"
    agent.save_trust_request(str(path))
    code = authority.make_trust_code(xmlfile.read(path.read_bytes())[0])
    (tmp_path / "code.xml").write_bytes(xmlfile.write([code]))
    assert agent.import_file(tmp_path / "code.xml").installed == ["trust code"]
    with pytest.raises(Exception, match="already installed"):
        agent.import_file(tmp_path / "code.xml")


def test_authorization_request_count_and_return(
    online: Agent, authority: MiniAuthority, tmp_path
) -> None:
    online.use("hseck9")
    assert online.licenses_in_use()[0].status == "NOT AUTHORIZED"
    with pytest.raises(CountExceededError):
        online.authorization_request("add", "hseck9", "local", count=5)
    failed = online.syslog("AUTHORIZATION_INSTALL_FAILED")[-1].text
    assert failed.endswith("5 requested, 1 available.")
    code = online.authorization_request("add", "hseck9", "local")
    assert online.licenses_in_use()[0].status == "IN USE"
    returned = online.authorization_return("local", "offline", str(tmp_path / "return.xml"))
    assert len(returned) == 1
    assert (
        xmlfile.read((tmp_path / "return.xml").read_bytes())[0].payload_json()["code_id"]
        == code.code_id
    )
    assert online.licenses_in_use()[0].status == "NOT AUTHORIZED"
    assert online.syslog("AUTHORIZATION_REMOVED")
    authority.purchased["hseck9"] = 1
    online.authorization_request("add", "hseck9", "local")
    assert len(online.authorization_return("local", "online")) == 1
