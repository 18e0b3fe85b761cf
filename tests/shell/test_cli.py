"""``smartlic instance shell`` (lines from stdin) and ``smartlic instance run --ssh-port``."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
from typer.testing import CliRunner

from smartlic.instance.cli import app

UDI = "PID:C9300-24UX,SN:FCW2303D16Y"


def test_shell_reads_commands_from_stdin(tmp_path: Path) -> None:
    state = tmp_path / "state"
    commands = "\n".join(
        [
            "enable",
            "configure terminal",
            "license boot level network-advantage",
            "end",
            "show license summary | include network",
            "sh lic bogus",
            "write memory",
            "exit",
        ]
    )
    result = CliRunner().invoke(
        app,
        ["shell", "--state", str(state), "--udi", UDI, "--hostname", "lab-sw"],
        input=commands + "\n",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "lab-sw>enable" in lines
    assert "lab-sw(config)#license boot level network-advantage" in lines
    assert "  network-advantage       (C9300-24 Network Advan...)       1 IN USE" in lines
    assert "% Invalid input detected at '^' marker." in lines
    assert "lab-sw#exit" in lines
    assert (state / "startup-config.json").exists()
    again = CliRunner().invoke(
        app, ["shell", "--state", str(state)], input="enable\nshow running-config | include boot\n"
    )
    assert "license boot level network-advantage" in again.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_run_serves_ssh_with_the_same_credentials(tmp_path: Path) -> None:
    http_port, ssh_port = free_port(), free_port()
    code = "from smartlic.instance.cli import app; app()"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "run",
            "--state",
            str(tmp_path / "s"),
            "--udi",
            UDI,
            "--hostname",
            "lab-sw",
            "--http-port",
            str(http_port),
            "--ssh-port",
            str(ssh_port),
            "--username",
            "ops",
            "--password",
            "pw-1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", ssh_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline
                time.sleep(0.1)

        async def scenario() -> tuple[str, bool]:
            async with asyncssh.connect(
                "127.0.0.1", ssh_port, username="ops", password="pw-1", known_hosts=None
            ) as conn:
                result = await conn.run("show version | include IOS XE", check=True)
            try:
                await asyncssh.connect(
                    "127.0.0.1", ssh_port, username="ops", password="bad", known_hosts=None
                )
            except asyncssh.PermissionDenied:
                return str(result.stdout), True
            return str(result.stdout), False

        output, refused = asyncio.run(scenario())
        assert output == "Cisco IOS XE Software, Version 17.09.02\r\n"
        assert refused
        assert (tmp_path / "s" / "ssh_host_ed25519_key").exists()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
