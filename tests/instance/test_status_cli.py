"""``smartlic instance status``: trust per UDI, authorizations, usage reporting, scheduled jobs,
in text and ``--json``; the hostname changed in the shell survives a restart of ``run``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smartlic.core.udi import HaSet, Udi
from smartlic.instance import Agent, Identity
from smartlic.instance.cli import _open, app
from smartlic.instance.schedule import JOB_NAMES
from tests.instance.mini_authority import UDI, MiniAuthority

STANDBY = Udi.parse("PID:C9300-24U,SN:FHH2043P09E")
HA = HaSet.parse(f"Active:{UDI};Standby:{STANDBY}")


def test_status_prints_trust_authorizations_reporting_and_jobs(
    make_agent: Callable[..., Agent], served: str, authority: MiniAuthority, tmp_path: Path
) -> None:
    agent = make_agent(identity=Identity(UDI, "stack-1", ha=HA))
    agent.configure(transport="cslu", cslu_url=f"{served}/cslu/v1/pi")
    agent.trust_idtoken("good-token", "local")  # the Active only
    agent.use("hseck9")
    agent.authorization_request("add", "hseck9", "local")
    agent.close()
    runner = CliRunner()
    state = str(tmp_path / "state")
    result = runner.invoke(app, ["status", "--state", state])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"HA member: Active:{UDI}" in out and f"HA member: Standby:{STANDBY}" in out
    trust = out.split("Trust:\n", 1)[1].split("Authorizations:\n", 1)[0].splitlines()
    assert trust[0].startswith(f"  Active: {UDI}: ") and "not installed" not in trust[0]
    assert trust[1] == f"  Standby: {STANDBY}: not installed"
    assert f"  Active: {UDI}: installed " in out and "(hseck9 1)" in out
    assert "    Last confirmation code: " in out
    assert f"  Standby: {STANDBY}: not installed" in out
    assert "Usage Reporting:\n  Last ACK received: " in out
    assert "  Reporting push interval: 30  days" in out
    assert "Upcoming Scheduled Jobs\n=======================\nCurrent time: " in out
    for name in JOB_NAMES:
        assert f"\n{name}: " in out
    data = json.loads(runner.invoke(app, ["status", "--state", state, "--json"]).output)
    assert [t["role"] for t in data["trust"]] == ["Active", "Standby"]
    assert data["trust"][0]["installed_at"] is not None and data["trust"][1]["installed_at"] is None
    assert data["authorizations"][0]["licenses"] == {"hseck9": 1}
    assert data["usage_reporting"]["reporting_push_interval_days"] == 30
    assert [j["name"] for j in data["scheduled_jobs"]] == list(JOB_NAMES)
    assert data["ha_udis"] == [f"Active:{UDI}", f"Standby:{STANDBY}"]


def test_run_keeps_the_hostname_set_in_the_shell(tmp_path: Path) -> None:
    agent = _open(tmp_path / "s", str(UDI), "first")
    agent.set_hostname("renamed")
    agent.close()
    again = _open(tmp_path / "s", str(UDI))  # no --hostname: the state folder's is kept
    assert again.identity.hostname == "renamed"
    again.close()
    explicit = _open(tmp_path / "s", str(UDI), "given")  # --hostname wins
    assert explicit.identity.hostname == "given"
    explicit.close()
