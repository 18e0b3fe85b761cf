"""``smartlic lab up / status / time advance / exec / down`` and ``lab demo --no-wait``."""

from __future__ import annotations

import json
from pathlib import Path

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
        advanced = runner.invoke(app, ["time", "advance", "--dir", str(folder), "--days", "2"])
        assert advanced.exit_code == 0, advanced.output
        shown = runner.invoke(
            app, ["exec", "--dir", str(folder), "--on", "sw-2", "show license status"]
        )
        assert "Last ACK received" in shown.output
    finally:
        down = runner.invoke(app, ["down", "--dir", str(folder)])
    assert down.exit_code == 0, down.output
    assert "control_port" not in json.loads((folder / "lab.json").read_text())


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
        "AUTHORIZATION_INSTALL_SUCCESS",
        "Fleet by topology",
        "portal login",
    ):
        assert expected in text
