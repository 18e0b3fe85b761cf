"""What a new user meets first, run as they would run it: commands that print no warning,
servers that print every URL a person or a device uses (and each answers a GET), and two
devices started on one machine without choosing ports."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smartlic.core.protocol import PUSH_ENDPOINT_GET

SMARTLIC = [sys.executable, "-m", "smartlic"]
# A user's environment: Python's default warning filters, whatever pytest sets for itself.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SMARTLIC, *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["instance", "run", "--help"],
        ["authority", "serve", "--help"],
        ["utility", "serve", "--help"],
    ],
    ids=" ".join,
)
def test_commands_print_no_warning(args: list[str]) -> None:
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "Warning" not in result.stdout


def test_lab_demo_prints_no_warning_and_lists_the_consoles() -> None:
    result = _run("lab", "demo", "--no-wait", "--instances", "8", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Warning" not in result.stderr
    assert "Warning" not in result.stdout
    for name in ("utility console", "utility (disconnected) console", "authority portal"):
        assert name in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _started(proc: subprocess.Popen[str], pattern: str, timeout: float = 60) -> str:
    """The stdout lines up to the one matching ``pattern`` (the server said it is serving)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if re.search(pattern, line):
            return "".join(lines)
    proc.kill()
    raise AssertionError(f"no line matching {pattern!r}; got {''.join(lines)!r}")


def _stop(proc: subprocess.Popen[str]) -> str:
    """Stop a server as a service manager does (SIGTERM) and return what it wrote to stderr.
    Its output ends only when every process holding it has exited: a helper process left
    running as an orphan fails here."""
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the server, or a process it started, outlived SIGTERM") from None
    assert "Traceback" not in err
    assert "leaked" not in err
    return err


def _wait_healthy(base: str) -> None:
    for _ in range(400):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base} did not become healthy")


def _printed_urls(text: str) -> list[str]:
    return [u for u in re.findall(r"http://\S+", text) if "<" not in u]


def _assert_each_answers(urls: list[str]) -> None:
    """Every URL answers a GET: a page, a redirect to one, or (a push endpoint) 405 with a
    line that says what it is for."""
    assert urls
    for url in urls:
        response = httpx.get(url, timeout=10, follow_redirects=True)
        if response.status_code == 405:
            assert PUSH_ENDPOINT_GET in response.text, url
            assert response.headers["allow"] == "POST"
        else:
            assert response.status_code == 200, (url, response.status_code)


@pytest.fixture
def authority_data(tmp_path: Path) -> Path:
    data = tmp_path / "authority"
    assert _run("authority", "init", "--data", str(data)).returncode == 0
    return data


@pytest.fixture
def authority_server(authority_data: Path) -> Iterator[tuple[str, str]]:
    port = _free_port()
    proc = subprocess.Popen(
        [*SMARTLIC, "authority", "serve", "--data", str(authority_data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        out = _started(proc, r"metrics")
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        yield base, out
    finally:
        _stop(proc)


def test_authority_serve_prints_every_url_and_each_answers(
    authority_server: tuple[str, str],
) -> None:
    base, out = authority_server
    assert f"smartlic authority serving on {base}" in out
    for what, path in (
        ("portal", "/portal/"),
        ("API docs", "/docs"),
        ("push endpoint", "/cslu/v1/pi"),
        ("key sets", "/api/v1/keysets"),
    ):
        assert re.search(rf"{re.escape(what)}\s+{re.escape(base + path)}", out), what
    _assert_each_answers(_printed_urls(out))
    root = httpx.get(base + "/", follow_redirects=False)
    assert root.status_code == 307
    assert root.headers["location"] == "/portal/"


def test_utility_serve_prints_every_url_and_each_answers(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [*SMARTLIC, "utility", "serve", "--data", str(tmp_path / "u"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        out = _started(proc, r"metrics")
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        assert re.search(rf"console\s+{re.escape(base)}/console/", out)
        assert re.search(rf"push endpoint\s+{re.escape(base)}/cslu/v1/pi", out)
        _assert_each_answers(_printed_urls(out))
        assert httpx.get(base + "/", follow_redirects=True).url == f"{base}/console/"
    finally:
        _stop(proc)


def test_a_taken_port_is_refused_naming_the_flag(
    authority_server: tuple[str, str], tmp_path: Path, authority_data: Path
) -> None:
    taken = authority_server[0].rsplit(":", 1)[1]
    result = _run("utility", "serve", "--data", str(tmp_path / "u"), "--port", taken)
    assert result.returncode == 1
    assert f"port {taken} on 127.0.0.1: address already in use" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr
    result = _run("authority", "serve", "--data", str(authority_data), "--port", taken)
    assert result.returncode == 1
    assert "--port" in result.stderr
    assert "Errno" not in result.stderr


def _device(state: Path, serial: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *SMARTLIC,
            "instance",
            "run",
            "--state",
            str(state),
            "--udi",
            f"PID:C9300-24UX,SN:{serial}",
            "--password",
            "s3cret",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )


def test_two_devices_on_one_machine_both_start(tmp_path: Path) -> None:
    """Neither is given --http-port: the first takes 8443 (or a free port, if something on
    this machine already has it), the second a free port, and each says where it is."""
    procs = [_device(tmp_path / "a", "FCW0000A001"), _device(tmp_path / "b", "FCW0000A002")]
    try:
        outs = [_started(proc, r"REST API on http://") for proc in procs]
        ports = [int(re.findall(r"REST API on http://127\.0\.0\.1:(\d+)", o)[0]) for o in outs]
        assert len(set(ports)) == 2
        if 8443 in ports:
            later = outs[1 - ports.index(8443)]
            assert "port 8443 is taken; the REST API takes" in later
        for port in ports:
            index = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).json()
            assert {"method": "GET", "path": "/smartlic-service/all-reports"} in index["endpoints"]
            listed = httpx.get(
                f"http://127.0.0.1:{port}/smartlic-service/list", auth=("admin", "s3cret")
            )
            assert listed.status_code == 200
        # A port the user chose that is taken is refused before anything starts.
        refused = _run(
            "instance", "run", "--state", str(tmp_path / "c"), "--udi",
            "PID:C9300-24UX,SN:FCW0000A003", "--password", "x", "--http-port", str(ports[1]),
        )  # fmt: skip
        assert refused.returncode == 1
        assert f"port {ports[1]} on 127.0.0.1: address already in use" in refused.stderr
        assert "--http-port" in refused.stderr
        assert not (tmp_path / "c").exists()
    finally:
        for proc in procs:
            _stop(proc)
