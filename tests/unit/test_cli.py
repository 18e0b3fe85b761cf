"""The `smartlic` command: version, help, inspect, messages, demo — run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from smartlic import __version__
from smartlic.cli import app

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "vectors"
runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"smartlic {__version__}"


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "inspect", "messages"):
        assert command in result.output


def test_inspect_golden_ack() -> None:
    result = runner.invoke(app, ["inspect", str(GOLDEN / "ack.xml")])
    assert result.exit_code == 0
    assert "ack" in result.output
    assert "authority" in result.output


def test_inspect_json_shows_payload() -> None:
    result = runner.invoke(app, ["inspect", "--json", str(GOLDEN / "policy.xml")])
    assert result.exit_code == 0
    assert "Custom Policy" in result.output


def test_bad_file_prints_diagnostics_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<smartLicense><RUMReport>{oops</RUMReport></smartLicense>")
    proc = subprocess.run(
        [sys.executable, "-m", "smartlic", "inspect", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "not valid JSON" in proc.stderr
    assert "What to do" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_messages_explains_one() -> None:
    result = runner.invoke(app, ["messages", "trust_code_install_failed"])
    assert result.exit_code == 0
    assert "trust code" in result.output


def test_demo_runs_the_tour() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "TRUST_INSTALL_SUCCESS" in result.output
    assert "POLICY_INSTALL_SUCCESS" in result.output
    assert "Signature mismatch" in result.output
