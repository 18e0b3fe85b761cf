"""Trust across the air gap, end to end (reference §3.5 step 6): on a product instance with no
connectivity, `license smart save trust-request flash:<file>` → the file is uploaded to the
authority over real HTTP (Reports > Usage Data Files > Upload Usage Data) → the trust-code file
it answers → `license smart import flash:<file>` → `show license status` shows the trust code.
A file for another UDI and a tampered file are refused with `%SMART_LIC-3-TRUST_CODE_INSTALL_
FAILED` and their reason."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from smartlic.authority.app import create_app
from smartlic.authority.cli import app as authority_cli
from smartlic.authority.settings import Settings
from smartlic.core import xmlfile
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.shell.session import Device, Session
from tests.web.conftest import serving

runner = CliRunner()


def _cli(data: Path, *args: str) -> str:
    result = runner.invoke(authority_cli, [*args, "--data", str(data)])
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Authority:
    base: str
    token: str
    va_ids: dict[str, str]
    anchor: Path


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[Authority]:
    """Set up with its admin CLI, served on a loopback port, as an operator runs it."""
    data = tmp_path / "authority"
    _cli(data, "init")
    _cli(data, "account", "create", "Example Corp")
    _cli(data, "va", "create", "--account", "Example Corp", "Campus")
    _cli(data, "va", "create", "--account", "Example Corp", "Lab")
    token = json.loads(_cli(data, "apitoken", "create", "--account", "Example Corp", "--json"))
    _cli(data, "keys", "show", "--anchor", str(tmp_path / "anchor.xml"))
    app = create_app(Settings(data=data))
    try:
        with serving(app) as base:
            vas = httpx.get(
                f"{base}/api/v1/virtual-accounts",
                headers={"Authorization": f"Bearer {token['token']}"},
            ).json()
            yield Authority(
                base,
                token["token"],
                {v["name"]: v["id"] for v in vas["items"]},
                tmp_path / "anchor.xml",
            )
    finally:
        app.state.authority.engine.dispose()


def switch(tmp_path: Path, authority: Authority, serial: str) -> tuple[Agent, Session]:
    (anchor,) = xmlfile.read(authority.anchor.read_bytes())
    agent = Agent.open(
        tmp_path / serial,
        Identity(Udi.parse(f"PID:C9300-24UX,SN:{serial}"), hostname=f"sw-{serial.lower()}"),
        clock=ManualClock(int(time.time())),
        anchor=anchor,
    )
    agent.configure(transport="off")
    return agent, Device(agent).session(privileged=True)


def upload(authority: Authority, va: str, data: bytes) -> httpx.Response:
    return httpx.post(
        f"{authority.base}/api/v1/virtual-accounts/{authority.va_ids[va]}/usage-files",
        content=data,
        params={"file_name": "trust.xml"},
        headers={"Authorization": f"Bearer {authority.token}"},
        timeout=30,
    )


def flash(agent: Agent, name: str) -> Path:
    """A file on the switch's ``flash:`` (copied there by hand, as across an air gap)."""
    folder = Path(agent.store.folder) / "flash"
    folder.mkdir(exist_ok=True)
    return folder / name


def failures(agent: Agent) -> list[str]:
    return [e.console_line() for e in agent.syslog("TRUST_CODE_INSTALL_FAILED")]


def test_trust_code_across_the_air_gap(authority: Authority, tmp_path: Path) -> None:
    agent, cli = switch(tmp_path, authority, "FCW2303D16Y")
    other, other_cli = switch(tmp_path, authority, "FCW2303D99Z")
    try:
        assert "Trust Code Installed: <none>" in cli.execute("show license status")
        assert cli.execute("license smart save trust-request flash:trust.xml") == ""

        answer = upload(authority, "Campus", flash(agent, "trust.xml").read_bytes())
        assert answer.status_code == 200, answer.text
        assert 'filename="TrustCode_trust.xml"' in answer.headers["content-disposition"]
        again = upload(authority, "Campus", flash(agent, "trust.xml").read_bytes())
        assert again.content == answer.content  # the same file again: the same trust code

        # Tampered on the way back: the signature no longer holds.
        forged = answer.content.replace(b'\\"serial\\":1', b'\\"serial\\":7')
        assert forged != answer.content
        flash(agent, "forged.xml").write_bytes(forged)
        assert cli.execute("license smart import flash:forged.xml").startswith("% Error")
        (refused,) = failures(agent)
        assert "%SMART_LIC-3-TRUST_CODE_INSTALL_FAILED" in refused
        assert "PID:C9300-24UX,SN:FCW2303D16Y: Signature mismatch." in refused
        assert "Trust Code Installed: <none>" in cli.execute("show license status")

        # Another switch given this file: not its UDI.
        flash(other, "trust_code.xml").write_bytes(answer.content)
        assert other_cli.execute("license smart import flash:trust_code.xml").startswith("% Error")
        (wrong,) = failures(other)
        assert "has failed on PID:C9300-24UX,SN:FCW2303D99Z" in wrong
        assert "not for this product instance" in wrong
        assert other.trust_code() is None

        # The genuine file on the right switch: installed, shown, announced.
        flash(agent, "trust_code.xml").write_bytes(answer.content)
        imported = cli.execute("license smart import flash:trust_code.xml")
        assert imported.startswith("Import Data Successful"), imported
        status = cli.execute("show license status")
        assert "Trust Code Installed: <none>" not in status
        assert "Trust Code Installed: " in status
        assert agent.trust_code() is not None
        (ok,) = agent.syslog("TRUST_INSTALL_SUCCESS")
        assert "PID:C9300-24UX,SN:FCW2303D16Y" in ok.console_line()
        assert agent.policy_grant is not None
        assert agent.policy_grant.account.virtual_account == "Campus"

        # The authority now knows the instance in Campus: another VA is an SA-VA mismatch.
        cli.execute("license smart save trust-request flash:again.xml")
        elsewhere = upload(authority, "Lab", flash(agent, "again.xml").read_bytes())
        assert elsewhere.status_code == 403
        assert elsewhere.json()["code"] == "ACCOUNT_MISMATCH"
    finally:
        agent.close()
        other.close()
