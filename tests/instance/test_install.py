"""Each install failure and each bad file, by name: the state does not change and the reason
is said (in the error and in the %SMART_LIC message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartlic.core import xmlfile
from smartlic.core.envelope import ArtifactType
from smartlic.core.errors import (
    ArtifactTypeError,
    FormatError,
    NotFoundError,
    ReplayError,
    RollbackError,
    SignatureMismatchError,
    WrongUdiError,
)
from smartlic.core.keys import SigningKey
from smartlic.instance import Agent, ManualClock
from tests.instance.mini_authority import DAY, OTHER_UDI, UDI, YEAR, MiniAuthority


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _snapshot(agent: Agent) -> tuple[object, ...]:
    return (
        agent.usage_summary(),
        agent.policy,
        [r.state for r in agent.reports()],
        agent.trust_info(),
        [c.code_id for c in agent.authorization_codes()],
    )


@pytest.fixture
def with_report(agent: Agent, clock: ManualClock) -> Agent:
    agent.use("network-advantage")
    clock.advance(3600)
    agent.close_reports()
    return agent


def _ack_file(agent: Agent, authority: MiniAuthority, tmp_path: Path, udi=UDI) -> Path:
    envelopes = [e for _, e in agent.unacked_reports()]
    return _write(tmp_path / "ack.xml", xmlfile.write([authority.make_ack(udi, envelopes)]))


def test_import_ack_file_says_what_it_installed(
    with_report: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    result = with_report.import_file(_ack_file(with_report, authority, tmp_path))
    assert result.installed == ["ACK"]
    assert result.summary() == "Installed: ACK"
    assert with_report.usage_summary().acknowledged == 1


def test_tampered_ack_file(with_report: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    path = _ack_file(with_report, authority, tmp_path)
    data = path.read_bytes().replace(b'\\"issued_at\\":', b'\\"issued_at\\":1')
    before = _snapshot(with_report)
    with pytest.raises(SignatureMismatchError, match="does not verify"):
        with_report.import_file(_write(path, data))
    assert _snapshot(with_report) == before


def test_truncated_file(with_report: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    path = _ack_file(with_report, authority, tmp_path)
    before = _snapshot(with_report)
    with pytest.raises(FormatError, match="not well-formed"):
        with_report.import_file(_write(path, path.read_bytes()[:300]))
    assert _snapshot(with_report) == before


def test_foreign_udi_ack(with_report: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    before = _snapshot(with_report)
    with pytest.raises(WrongUdiError, match="not for this product instance"):
        with_report.import_file(_ack_file(with_report, authority, tmp_path, OTHER_UDI))
    assert _snapshot(with_report) == before


def test_replayed_ack(with_report: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    path = _ack_file(with_report, authority, tmp_path)
    with_report.import_file(path)
    before = _snapshot(with_report)
    with pytest.raises(ReplayError, match="already installed"):
        with_report.import_file(path)
    assert _snapshot(with_report) == before


def test_ack_with_wrong_digest_acknowledges_nothing(
    with_report: Agent, authority: MiniAuthority
) -> None:
    from smartlic.core.artifacts import Ack, AckedReport

    report_id = with_report.unacked_reports()[0][0]
    ack = Ack("x1", UDI, authority.account, authority.now, (AckedReport(report_id, "0" * 64),))
    outcome = with_report.install_ack(authority.sign(ArtifactType.ACK, ack.to_json()))
    assert outcome.ignored == [report_id] and outcome.acked == []
    assert with_report.report(report_id).state == "CLOSED"


def test_policy_install_success_and_origins(
    agent: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    path = _write(tmp_path / "p.xml", xmlfile.write([authority.make_policy(days=60)]))
    assert agent.import_file(path).installed == ["policy"]
    assert agent.policy.name == "Custom Policy"
    assert "Customer Policy" in "\n".join(agent.status().policy_lines)
    assert [m.text for m in agent.syslog("POLICY_INSTALL_SUCCESS")] == [
        "%SMART_LIC-6-POLICY_INSTALL_SUCCESS: A new licensing policy was successfully installed"
    ]


def test_old_policy_is_a_rollback(agent: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    old = authority.make_policy(serial=1, issued_at=authority.now - DAY)
    new = authority.make_policy(serial=2)
    agent.install_policy(new)
    with pytest.raises(RollbackError, match="older than the installed"):
        agent.import_file(_write(tmp_path / "old.xml", xmlfile.write([old])))
    assert agent.policy_grant.policy.serial == 2
    failed = agent.syslog("POLICY_INSTALL_FAILED")
    assert len(failed) == 1 and "older than the installed one" in failed[0].text


def test_replayed_policy(agent: Agent, authority: MiniAuthority, tmp_path: Path) -> None:
    path = _write(tmp_path / "p.xml", xmlfile.write([authority.make_policy()]))
    agent.import_file(path)
    with pytest.raises(ReplayError, match="already installed"):
        agent.import_file(path)
    assert len(agent.syslog("POLICY_INSTALL_SUCCESS")) == 1


def test_policy_signed_by_an_unknown_key_keeps_the_old_policy(
    agent: Agent, authority: MiniAuthority
) -> None:
    authority.signing = SigningKey.generate()
    with pytest.raises(SignatureMismatchError):
        agent.install_policy(authority.make_policy())
    assert agent.policy.is_default
    assert "is not in key set 1" in agent.syslog("POLICY_INSTALL_FAILED")[0].text


def test_policy_for_another_udi(agent: Agent, authority: MiniAuthority) -> None:
    with pytest.raises(WrongUdiError):
        agent.install_policy(authority.make_policy(udi=OTHER_UDI))
    assert agent.policy.is_default


def test_policy_checked_at_the_instance_clock(
    agent: Agent, authority: MiniAuthority, clock: ManualClock
) -> None:
    clock.advance(6 * YEAR)  # past the signing key's validity window
    with pytest.raises(SignatureMismatchError, match="not at"):
        agent.install_policy(authority.make_policy())


def test_ack_presented_as_a_policy(
    with_report: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    ack = authority.make_ack(UDI, [e for _, e in with_report.unacked_reports()])
    xml = xmlfile.write([ack]).replace(b"smartLicenseRumAck", b"smartLicensePolicy")
    before = _snapshot(with_report)
    with pytest.raises(ArtifactTypeError, match="altered"):
        with_report.import_file(_write(tmp_path / "policy.xml", xml))
    with pytest.raises(ArtifactTypeError, match="expected a policy"):
        with_report.import_file(
            _write(tmp_path / "ack.xml", xmlfile.write([ack])), expect=ArtifactType.POLICY
        )
    assert _snapshot(with_report) == before


def test_usage_file_cannot_be_imported(with_report: Agent, tmp_path: Path) -> None:
    path = tmp_path / "usage.xml"
    with_report.save_usage(path)
    with pytest.raises(ArtifactTypeError, match="cannot be imported"):
        with_report.import_file(path)


def test_missing_file(agent: Agent, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="cannot read"):
        agent.import_file(tmp_path / "nope.xml")


def test_authorization_code_failures(agent: Agent, authority: MiniAuthority) -> None:
    with pytest.raises(WrongUdiError):
        agent.install_authorization(authority.make_slac(OTHER_UDI))
    good = authority.make_slac(UDI)
    authority.signing = SigningKey.generate()
    with pytest.raises(SignatureMismatchError):
        agent.install_authorization(authority.make_slac(UDI))
    agent.install_authorization(good)
    with pytest.raises(ReplayError):
        agent.install_authorization(good)
    texts = [m.text for m in agent.syslog("AUTHORIZATION_INSTALL_FAILED")]
    assert len(texts) == 3
    assert texts[0].startswith(
        "%SMART_LIC-3-AUTHORIZATION_INSTALL_FAILED: The install of a new licensing "
        f"authorization code has failed on {UDI}: the authorization code is for"
    )
    assert len(agent.authorization_codes()) == 1


def test_trust_code_for_another_request_is_refused(
    agent: Agent, authority: MiniAuthority, tmp_path: Path
) -> None:
    from smartlic.core.artifacts import TrustRequest
    from smartlic.core.envelope import SigningType, sign
    from smartlic.core.udi import HaSet

    stranger = SigningKey.generate()
    request = TrustRequest(UDI, HaSet.standalone(UDI), agent.key.public, authority.now, "n" * 32)
    env = sign(ArtifactType.TRUST_REQUEST, request.to_json(), stranger, SigningType.BUILTIN)
    path = _write(tmp_path / "t.xml", xmlfile.write([authority.make_trust_code(env)]))
    with pytest.raises(ReplayError, match="does not answer"):
        agent.import_file(path)
    assert not agent.trust_info().installed
    assert agent.syslog("TRUST_CODE_INSTALL_FAILED")


def test_save_usage_selections(agent: Agent, clock: ManualClock, tmp_path: Path) -> None:
    agent.use("network-advantage")
    clock.advance(10 * DAY)
    assert agent.save_usage(tmp_path / "all.xml") == 1
    assert agent.usage_summary().waiting_for_ack == 1
    clock.advance(40 * DAY)
    assert agent.save_usage(tmp_path / "unrep.xml", "unreported") == 1
    assert agent.save_usage(tmp_path / "days.xml", "days", days=5) == 1
    first = agent.reports("CLOSED")[0].report_id
    assert agent.save_usage(tmp_path / "one.xml", "rum-id", rum_id=first) == 1
    envelopes = xmlfile.read((tmp_path / "all.xml").read_bytes())
    assert [e.type for e in envelopes] == [ArtifactType.RUM]
    assert b"<RUMReport>" in (tmp_path / "all.xml").read_bytes()
    with pytest.raises(NotFoundError):
        agent.save_usage(tmp_path / "x.xml", "rum-id", rum_id=42)


def test_ack_carrying_an_old_policy_still_acknowledges(
    with_report: Agent, authority: MiniAuthority
) -> None:
    with_report.install_policy(authority.make_policy(serial=2))
    old = authority.make_policy(serial=1, issued_at=authority.now - DAY)
    envelopes = [e for _, e in with_report.unacked_reports()]
    outcome = with_report.install_ack(authority.make_ack(UDI, envelopes, policy=old))
    assert outcome.acked and outcome.installed == []
    assert outcome.failed and "older than the installed" in outcome.failed[0]
    assert with_report.policy_grant.policy.serial == 2
    assert len(with_report.syslog("POLICY_INSTALL_FAILED")) == 1
