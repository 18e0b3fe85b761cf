"""``smartlic lab up / status / time advance / exec / down`` and ``lab demo --no-wait``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from rich.console import Console
from typer.testing import CliRunner

from smartlic.lab.cli import app


def test_up_status_advance_exec_down(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    runner = CliRunner()
    result = runner.invoke(app, ["up", "--dir", str(folder), "-n", "3", "--topology", "mixed"])
    try:
        assert result.exit_code == 0, result.output
        assert "sw-1" in result.output
        status = runner.invoke(app, ["status", "--dir", str(folder), "--json"])
        assert status.exit_code == 0, status.output
        data = json.loads(status.stdout)
        assert [r["hostname"] for r in data["rows"]] == ["sw-1", "sw-2", "core-3"]
        short = runner.invoke(app, ["status", "--dir", str(folder), "--rows", "1"])
        assert "and 2 more instances" in short.output and "core-3" not in short.output
        advanced = runner.invoke(app, ["time", "advance", "--dir", str(folder), "--days", "2"])
        assert advanced.exit_code == 0, advanced.output
        assert "scheduled actions ran" in advanced.output
        port = json.loads((folder / "lab.json").read_text())["control_port"]
        progress = httpx.get(f"http://127.0.0.1:{port}/progress", timeout=10).json()
        assert progress == {"done": 6, "total": 6}  # 3 instances x 2 days
        shown = runner.invoke(
            app, ["exec", "--dir", str(folder), "--on", "sw-2", "show license status"]
        )
        assert "Last ACK received" in shown.output
        _run_on_the_running_lab(runner, folder, tmp_path)
    finally:
        down = runner.invoke(app, ["down", "--dir", str(folder)])
    assert down.exit_code == 0, down.output
    assert "control_port" not in json.loads((folder / "lab.json").read_text())


ON_THE_LAB = """
name: on the running lab
topology: air-gapped   # not used with --lab: the steps act on the lab's own instances
instances: 1
steps:
  - cli: license smart trust idtoken {id_token} local
    on: direct
  - utility: collect
  - expect: {state: policy_name, equals: Campus Policy, on: cslu-pull}
"""


def _run_on_the_running_lab(runner: CliRunner, folder: Path, tmp_path: Path) -> None:
    """``lab run --lab``: the scenario changes the running lab (trust stays installed)."""
    path = tmp_path / "on-the-lab.yaml"
    path.write_text(ON_THE_LAB)
    result = runner.invoke(app, ["run", "--lab", str(folder), str(path)])
    assert result.exit_code == 0, result.output
    assert "PASSED on the running lab" in result.output
    rows = json.loads(runner.invoke(app, ["status", "--dir", str(folder), "--json"]).stdout)
    assert [r["trust"] for r in rows["rows"]] == [True, False, False]
    # a step on a topology the lab does not have fails, rather than checking nothing
    path.write_text("name: nowhere\nsteps:\n  - expect: {state: policy_name, on: air-gapped}\n")
    result = runner.invoke(app, ["run", "--lab", str(folder), str(path)])
    assert result.exit_code == 1
    assert "no air-gapped instance in the lab" in " ".join(result.output.split())
    missing = runner.invoke(app, ["run", "--lab", str(tmp_path / "nowhere"), str(path)])
    assert missing.exit_code == 1 and "No lab in" in missing.output


def test_run_reports_pass(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "air-gapped", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


def test_demo_no_wait(tmp_path: Path) -> None:
    from smartlic.lab.demo import tour

    console = Console(record=True, width=100)
    tour(console, instances=10, folder=tmp_path, wait=False)
    text = console.export_text()
    for expected in (
        "TRUST_INSTALL_SUCCESS",
        "POLICY_INSTALL_SUCCESS",
        "Import Data Successful",
        "Upload From Cisco",
        "policy installed on 2 of 2 instances behind the utility",
        "AUTHORIZATION_INSTALL_SUCCESS",
        "Fleet by topology",
        "portal login",
    ):
        assert expected in text
