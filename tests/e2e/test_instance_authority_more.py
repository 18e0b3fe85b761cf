"""The product-instance agent against the real authority (set up with its CLI, served by
`smartlic authority serve` in a separate process): authorization codes online (request, return,
the count freed), HA sets, the air gap (usage file → `smartlic authority usage upload` → ACK file
→ import), policy files, and the trust failures the authority decides (timestamp and account
mismatch).

One authority serves the whole module; each test uses its own UDIs and virtual account where
counts matter. `smartlic.core` is used only to read what a test checks (and to pack the tar.gz
usage file a utility would make).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import BundleManifest
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    AccountMismatchError,
    CountExceededError,
    ReplayError,
    TimestampMismatchError,
)
from smartlic.core.keys import SigningKey
from smartlic.core.udi import HaSet, Udi
from smartlic.instance import Agent, Identity, ManualClock
from tests.e2e.test_instance_authority import _cli, _free_port

ACCOUNT = "Example Corp"
HOUR = 3600


@dataclass
class Authority:
    data: Path
    url: str
    anchor: Envelope
    tokens: dict[str, str]
    tenants: dict[str, str]

    def cli(self, *args: str) -> str:
        return _cli(self.data, *args)

    def instances(self, va: str) -> dict[str, dict[str, object]]:
        out = self.cli("instance", "list", "--account", ACCOUNT, "--va", va, "--json")
        return {str(row["udi"]): row for row in json.loads(out)}


def _setup(data: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Virtual accounts Campus (export allowed, 1 hseck9, custom policy), Stack (export allowed,
    3 hseck9) and Branch; returns an ID token and the tenant id of each."""
    tenants: dict[str, str] = {}
    _cli(data, "init")
    _cli(data, "account", "create", ACCOUNT)
    for va, export, hseck9 in (("Campus", True, 1), ("Stack", True, 3), ("Branch", False, 0)):
        flags = ["--allow-export"] if export else []
        out = _cli(data, "va", "create", "--account", ACCOUNT, va, *flags, "--json")
        tenants[va] = str(json.loads(out)["tenant_id"])
        if hseck9:
            _cli(data, "purchase", "add", "--account", ACCOUNT, "--va", va, "--license", "hseck9",
                 "--count", str(hseck9))  # fmt: skip
    _cli(data, "policy", "create", "--account", ACCOUNT, "--va", "Campus", "--name",
         "Campus Policy", "--unenforced-perpetual", "60,60,60")  # fmt: skip
    tokens = {}
    for va in ("Campus", "Stack", "Branch"):
        out = _cli(data, "token", "create", "--account", ACCOUNT, "--va", va, "--json")
        tokens[va] = str(json.loads(out)["token"])
    return tokens, tenants


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    root = tmp_path_factory.mktemp("authority")
    data = root / "data"
    tokens, tenants = _setup(data)
    _cli(data, "keys", "show", "--anchor", str(root / "anchor.xml"))
    (anchor,) = xmlfile.read((root / "anchor.xml").read_bytes())
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "smartlic", "authority", "serve", "--data", str(data),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            pytest.fail("the authority did not start")
        yield Authority(data, base, anchor, tokens, tenants)
    finally:
        server.terminate()
        server.wait(timeout=20)


def _agent(
    authority: Authority,
    state: Path,
    udi: str,
    *,
    ha: HaSet | None = None,
    skew: int = 0,
    transport: str = "smart",
) -> tuple[Agent, ManualClock]:
    """An instance on (roughly) real time, ``skew`` seconds off; the authority is on real time."""
    clock = ManualClock(int(time.time()) + skew)
    agent = Agent.open(
        state, Identity(Udi.parse(udi), hostname="e2e", ha=ha), clock=clock, anchor=authority.anchor
    )
    agent.configure(transport=transport, smart_url=f"{authority.url}/licservice/license")
    return agent, clock


def _reason(agent: Agent, mnemonic: str) -> str:
    return agent.syslog(mnemonic)[-1].text


# --- authorization codes ------------------------------------------------------------------------


def test_hseck9_authorization_online_then_return_frees_the_count(
    authority: Authority, tmp_path: Path
) -> None:
    first, _ = _agent(authority, tmp_path / "a", "PID:C9300-24UX,SN:E2EAUTH0001")
    second, _ = _agent(authority, tmp_path / "b", "PID:C9300-24UX,SN:E2EAUTH0002")
    for agent in (first, second):
        agent.trust_idtoken(authority.tokens["Campus"], "local")
        agent.use("hseck9")
        assert agent.licenses_in_use()[0].status == "NOT AUTHORIZED"
    assert first.syslog("EXPORT_CONTROLLED")

    code = first.authorization_request("add", "hseck9", "local")
    assert code.udi == first.udi and code.account.virtual_account == "Campus"
    assert first.licenses_in_use()[0].status == "IN USE"
    assert "AUTHORIZATION_INSTALL_SUCCESS" in first.syslog()[-1].text
    # the Campus account bought one: the second instance is refused while the first holds it
    with pytest.raises(CountExceededError):
        second.authorization_request("add", "hseck9", "local")
    assert "0 available" in _reason(second, "AUTHORIZATION_INSTALL_FAILED")

    returned = first.authorization_return("local", "online")
    assert len(returned) == 1
    assert first.authorization_codes() == [] and first.pending_returns() == {}
    assert first.licenses_in_use()[0].status == "NOT AUTHORIZED"
    assert _reason(first, "AUTHORIZATION_REMOVED").endswith(str(first.udi))
    # the count is free again at the authority
    second.authorization_request("add", "hseck9", "local")
    assert second.licenses_in_use()[0].status == "IN USE"
    second.authorization_return("local", "online")
    for agent in (first, second):
        agent.close()


def test_ha_set_trust_and_authorization_per_udi(authority: Authority, tmp_path: Path) -> None:
    udis = ["PID:C9300-24UX,SN:E2EHAACT01", "PID:C9300-24U,SN:E2EHASTB01",
            "PID:C9300-48T,SN:E2EHAMEM01"]  # fmt: skip
    ha = HaSet.parse(f"Active:{udis[0]};Standby:{udis[1]};Member:{udis[2]}")
    agent, clock = _agent(authority, tmp_path / "stack", udis[0], ha=ha)
    result = agent.trust_idtoken(authority.tokens["Stack"], "all")
    assert result.failed == () and result.installed.count("trust code") == 3
    assert [e.installed_at is not None for e in agent.trust_status()] == [True, True, True]
    placed = authority.instances("Stack")
    assert set(placed) == set(udis)  # the authority registered every UDI of the set

    agent.use("hseck9")
    agent.authorization_request("add", "hseck9", "all")
    assert {str(c.udi) for c in agent.authorization_codes()} == set(udis)
    assert agent.licenses_in_use()[0].status == "IN USE"

    clock.advance(HOUR)
    synced = agent.sync()
    assert synced.status == "OK" and synced.acked == synced.sent_reports == 1
    report = agent.reports("ACK")[0]
    envelope = agent.report_envelope(report.report_id)
    assert envelope is not None
    ha_udi = envelope.payload_json()["meta"]["ha_udi"]
    assert [m["role"] for m in ha_udi] == ["Active", "Standby", "Member"]

    assert len(agent.authorization_return("all", "online")) == 3
    assert agent.authorization_codes() == []
    # all three counts came back: the set can be authorized again
    agent.authorization_request("add", "hseck9", "all")
    assert len(agent.authorization_codes()) == 3
    agent.authorization_return("all", "online")

    # a code made at the authority for the Standby reaches it with `license smart sync all`
    authority.cli("slac", "create", "--account", ACCOUNT, "--va", "Stack", "--udi", udis[1],
                  "--license", "hseck9", str(tmp_path / "standby-slac.xml"))  # fmt: skip
    clock.advance(60)
    assert "authorization code" not in agent.sync("local").installed
    synced = agent.sync("all")
    assert synced.installed.count("authorization code") == 1, synced
    assert [str(c.udi) for c in agent.authorization_codes()] == [udis[1]]
    assert agent.licenses_in_use()[0].status == "NOT AUTHORIZED"  # the Active has none
    agent.close()


# --- air gap ------------------------------------------------------------------------------------


def _acknowledged(agent: Agent) -> tuple[int, int]:
    summary = agent.usage_summary()
    return summary.acknowledged, summary.unacknowledged


def test_air_gap_with_the_device_usage_file(authority: Authority, tmp_path: Path) -> None:
    agent, clock = _agent(
        authority, tmp_path / "pi", "PID:C9300-24UX,SN:E2EAIRXML1", transport="off"
    )
    agent.use("network-advantage")
    clock.advance(HOUR)
    usage = tmp_path / "usage.xml"
    assert agent.save_usage(usage, "unreported") == 1
    assert agent.status().last_report_file_write == clock.now()
    ack = tmp_path / "ack.xml"
    authority.cli("usage", "upload", "--account", ACCOUNT, "--va", "Campus", str(usage),
                  "--ack", str(ack))  # fmt: skip
    result = agent.import_file(ack)
    assert "ACK" in result.installed
    assert _acknowledged(agent) == (1, 0)
    assert agent.usage_reporting().last_ack_received == clock.now()
    with pytest.raises(ReplayError):
        agent.import_file(ack)
    agent.close()


def test_air_gap_with_a_tar_gz_usage_file(authority: Authority, tmp_path: Path) -> None:
    """The usage file a utility packs (core.bundle, signed with the utility's key)."""
    agent, clock = _agent(
        authority, tmp_path / "pi", "PID:C9300-24UX,SN:E2EAIRTGZ1", transport="off"
    )
    agent.use("dna-advantage")
    clock.advance(HOUR)
    device_file = tmp_path / "usage.xml"
    assert agent.save_usage(device_file, "unreported") == 1
    member = bundle.Member(f"UD_{agent.udi.sn}.xml", device_file.read_bytes())
    key = SigningKey.generate()
    manifest = BundleManifest(
        bundle_id=uuid.uuid4().hex,
        created_at=clock.now(),
        created_by="e2e utility",
        entries=(bundle.entry_for(member, agent.udi, 1),),
        signer_public_key=key.public,
    )
    signed = sign(ArtifactType.USAGE_FILE, manifest.to_json(), key, SigningType.UTILITY)
    packed = io.BytesIO()
    bundle.write(packed, ArtifactType.USAGE_FILE, manifest, signed, [member])
    usage = tmp_path / "usage.tar.gz"
    usage.write_bytes(packed.getvalue())
    ack = tmp_path / "ack.tar.gz"
    authority.cli("usage", "upload", "--account", ACCOUNT, "--va", "Campus", str(usage),
                  "--ack", str(ack))  # fmt: skip
    result = agent.import_file(ack)
    assert "ACK" in result.installed
    assert _acknowledged(agent) == (1, 0)
    agent.close()


def test_policy_file_is_imported(authority: Authority, tmp_path: Path) -> None:
    agent, _ = _agent(authority, tmp_path / "pi", "PID:C9300-24UX,SN:E2EPOLICY1", transport="off")
    policy_file = tmp_path / "policy.xml"
    authority.cli("policy", "file", "--account", ACCOUNT, "--va", "Campus", str(policy_file))
    result = agent.import_file(policy_file)
    assert result.installed == ["policy"]
    assert agent.policy.name == "Campus Policy"
    assert agent.syslog("POLICY_INSTALL_SUCCESS")
    with pytest.raises(ReplayError):
        agent.import_file(policy_file)
    assert agent.policy.name == "Campus Policy"
    agent.close()


def test_cslu_url_with_a_tenant_suffix_places_an_untrusted_instance(
    authority: Authority, tmp_path: Path
) -> None:
    """No trust: the tenant in the cslu URL names the virtual account (docs/protocol.md)."""
    agent, clock = _agent(authority, tmp_path / "pi", "PID:C9300-24UX,SN:E2ETENANT1")
    url = f"{authority.url}/cslu/v1/pi/{authority.tenants['Campus']}"
    agent.configure(transport="cslu", cslu_url=url)
    assert agent.status().url == url
    agent.use("network-advantage")
    clock.advance(HOUR)
    result = agent.sync()
    assert result.status == "OK" and result.acked == result.sent_reports == 1
    assert "policy" in result.installed and agent.policy.name == "Campus Policy"
    assert agent.reports("ACK")[0].signing_type == "builtin"
    assert "PID:C9300-24UX,SN:E2ETENANT1" in authority.instances("Campus")
    agent.close()


# --- trust failures decided by the authority ----------------------------------------------------


def test_trust_timestamp_mismatch_with_the_clock_two_hours_off(
    authority: Authority, tmp_path: Path
) -> None:
    agent, _ = _agent(authority, tmp_path / "pi", "PID:C9300-24UX,SN:E2ESKEW001", skew=2 * HOUR)
    with pytest.raises(TimestampMismatchError):
        agent.trust_idtoken(authority.tokens["Campus"], "local")
    assert _reason(agent, "TRUST_CODE_INSTALL_FAILED") == (
        "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED: The install of a new licensing trust code has "
        f"failed on {agent.udi}: Timestamp mismatch."
    )
    assert agent.trust_code() is None
    agent.close()


def test_token_of_another_virtual_account_is_an_account_mismatch(
    authority: Authority, tmp_path: Path
) -> None:
    agent, _ = _agent(authority, tmp_path / "pi", "PID:C9300-24UX,SN:E2EMOVE001")
    agent.trust_idtoken(authority.tokens["Campus"], "local")
    before = agent.trust_code()
    assert before is not None and before.account.virtual_account == "Campus"
    with pytest.raises(AccountMismatchError):
        agent.trust_idtoken(authority.tokens["Branch"], "local", force=True)
    assert _reason(agent, "TRUST_CODE_INSTALL_FAILED").endswith(
        f"failed on {agent.udi}: Smart Account-Virtual Account mismatch."
    )
    assert agent.trust_code() == before  # the installed trust code stays
    agent.close()
