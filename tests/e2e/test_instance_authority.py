"""A product instance and an authority, each as a user runs it, talking real HTTP.

The authority is set up with its own CLI and served by `smartlic authority serve` in a separate
process; the product instance is the embeddable agent. This is the "Connected directly to CSSM"
topology: trust with an ID token, then usage reporting, ACK and policy install.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smartlic.core import xmlfile
from smartlic.core.errors import AlreadyInstalledError
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock


def _cli(data: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "smartlic", "authority", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def authority(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    data = tmp_path / "authority"
    _cli(data, "init")
    _cli(data, "account", "create", "Example Corp")
    _cli(data, "va", "create", "--account", "Example Corp", "Campus")
    _cli(
        data,
        "policy",
        "create",
        "--account",
        "Example Corp",
        "--va",
        "Campus",
        "--name",
        "Campus Policy",
        "--unenforced-subscription",
        "60,60,60",
    )
    token = json.loads(
        _cli(data, "token", "create", "--account", "Example Corp", "--va", "Campus", "--json")
    )["token"]
    _cli(data, "keys", "show", "--anchor", str(tmp_path / "anchor.xml"))
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smartlic",
            "authority",
            "serve",
            "--data",
            str(data),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
        yield base, tmp_path / "anchor.xml", token
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_trust_usage_ack_and_policy_over_http(
    authority: tuple[str, Path, str], tmp_path: Path
) -> None:
    base, anchor_file, token = authority
    (anchor,) = xmlfile.read(anchor_file.read_bytes())
    # The instance's own clock: real time now, moved forward by hand (the authority is on real
    # time, and trust needs the two within an hour).
    clock = ManualClock(int(time.time()))
    agent = Agent.open(
        tmp_path / "pi",
        Identity(Udi.parse("PID:C9300-24UX,SN:FCW2303D16Y"), hostname="switch-1"),
        clock=clock,
        anchor=anchor,
    )
    agent.configure(transport="smart", smart_url=f"{base}/licservice/license")
    agent.use("network-advantage", 1)
    agent.use("dna-advantage", 1)

    result = agent.trust_idtoken(token, "local")
    assert result.status == "OK", agent.syslog()
    assert "trust code" in result.installed
    lines = [entry.console_line() for entry in agent.syslog()]
    assert any("%SMART_LIC-6-TRUST_INSTALL_SUCCESS" in line for line in lines)

    clock.advance(1800)  # two 15-minute samples
    agent.close_reports()
    synced = agent.sync("all")
    assert synced.status == "OK"
    assert synced.sent_reports >= 2
    assert synced.acked == synced.sent_reports
    grant = agent.policy_grant
    assert grant is not None
    assert grant.policy.name == "Campus Policy"
    assert grant.account.virtual_account == "Campus"
    summary = agent.usage_summary()
    assert summary.waiting_for_ack == 0

    # The same token used again, without force: the instance refuses before sending anything.
    with pytest.raises(AlreadyInstalledError):
        agent.trust_idtoken(token, "local")
    assert any(
        "Trust code is already installed" in entry.console_line() for entry in agent.syslog()
    )
