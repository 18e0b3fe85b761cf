"""Authority key rotation reaching the instance, privacy settings, SLAC replace."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smartlic.core.artifacts import RumReport
from smartlic.core.errors import ConfigurationError, RollbackError
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeyEntry, KeySet, sign_keyset
from smartlic.instance import Agent, ManualClock
from tests.instance.mini_authority import DAY, T0, UDI, YEAR, MiniAuthority


def test_key_rotation_arrives_first_and_survives_restart(
    agent: Agent, make_agent: Callable[..., Agent], authority: MiniAuthority, clock: ManualClock
) -> None:
    new_root, new_signing = SigningKey.generate(), SigningKey.generate()
    v2 = KeySet(2, T0, new_root.public, (KeyEntry(new_signing.public, T0 - DAY, T0 + YEAR),))
    chain = sign_keyset(v2, authority.root)  # signed by the root of version 1
    authority.signing = new_signing
    policy = authority.make_policy()  # signed by a key only version 2 knows
    assert agent.install_artifacts([policy, chain]) == ["key set", "policy"]
    assert agent.verifier is not None and agent.verifier.version == 2
    assert agent.instance_state().keyset_version == 2
    agent.close()
    again = make_agent()
    assert again.verifier is not None and again.verifier.version == 2
    # a skipped or foreign version is refused and changes nothing
    v4 = KeySet(4, T0, new_root.public, (KeyEntry(new_signing.public, T0, T0 + YEAR),))
    with pytest.raises(RollbackError):
        again.install_keyset([sign_keyset(v4, new_root)])
    assert again.verifier.version == 2


def test_privacy_and_customer_tags_in_reports(agent: Agent, clock: ManualClock) -> None:
    agent.configure(privacy_hostname=True, privacy_version=True, customer_tags=("lab", "bldg-7"))
    agent.use("network-advantage")
    clock.advance(900)
    agent.close_reports()
    report_id = agent.reports("CLOSED")[0].report_id
    report = RumReport.from_json(agent.report_envelope(report_id).payload_json())
    assert report.hostname is None and report.software_version is None
    assert report.customer_tags == ("lab", "bldg-7")
    assert report.utility_enabled  # transport cslu
    with pytest.raises(ConfigurationError):
        agent.configure(transport="carrier-pigeon")
    with pytest.raises(ConfigurationError):
        agent.configure(cslu_url="ftp://x")


def test_authorization_replace_keeps_one_code(agent: Agent, authority: MiniAuthority) -> None:
    agent.install_authorization(authority.make_slac(UDI, "hseck9", 1))
    agent.install_authorization(authority.make_slac(UDI, "hseck9", 2), replace=True)
    codes = agent.authorization_codes()
    assert len(codes) == 1 and codes[0].licenses[0].count == 2
    assert agent.use("hseck9", 2).status == "IN USE"
