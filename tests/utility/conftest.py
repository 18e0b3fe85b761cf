"""Real processes talking real HTTP: the authority (`smartlic authority serve`), the utility
(`python -m smartlic.utility serve`), product instances as embedded agents (push) or behind
their REST API under uvicorn (pull)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.core import xmlfile
from smartlic.core.envelope import Envelope
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock

ACCOUNT = "Example Corp"
VA = "Campus"
POLICY = "Campus Policy"
DEVICE_PASSWORD = "s3cret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def authority_cli(data: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "smartlic", "authority", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def utility_cli(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "smartlic.utility", *args, "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


STARTUP_SECONDS = 120.0
"""How long a server may take to answer /healthz. A time, not a number of tries: on the shared
2-core machine under load, starting the authority (imports, migrations) took over 20 s, which
is what 400 tries of 50 ms allowed."""
BIND_TRIES = 10
"""A restart reuses the port the tests know; if something took it meanwhile (an outgoing
connection may get it as its local port), the server is started again once it is free."""


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "\n" + log.read_text(errors="replace")[-2000:]


def wait_healthy(
    base: str, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None
) -> bool:
    """True once ``base`` answers /healthz; False if ``proc`` exits first."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    pytest.fail(f"{base} did not answer /healthz within {STARTUP_SECONDS:.0f} s{_tail(log)}")


def start_server(
    argv: list[str], base: str, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process and wait until it answers; its stderr goes to ``log``."""
    for _ in range(BIND_TRIES):
        with log.open("wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        if wait_healthy(base, proc, log):
            return proc
        if "address already in use" not in _tail(log):
            break
        time.sleep(1.0)
    pytest.fail(f"{base} exited with {proc.returncode}{_tail(log)}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


@dataclass
class AuthorityProc:
    data: Path
    anchor_file: Path
    api_token: str
    id_token: str
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def anchor(self) -> Envelope:
        return xmlfile.read(self.anchor_file.read_bytes())[0]

    def start(self) -> None:
        self.proc = start_server(
            [
                sys.executable,
                "-m",
                "smartlic",
                "authority",
                "serve",
                "--data",
                str(self.data),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            self.url,
            self.data.parent / "authority.log",
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)
            self.proc = None

    def cli(self, *args: str) -> str:
        return authority_cli(self.data, *args)

    def reports_stored(self) -> int:
        import sqlite3

        with sqlite3.connect(self.data / "authority.db") as db:
            return int(db.execute("SELECT COUNT(*) FROM usage_reports").fetchone()[0])


def build_authority(root: Path) -> dict[str, str]:
    """Set up an authority's state with its own CLI: account, VA, policy, purchase, tokens."""
    data = root / "authority"
    authority_cli(data, "init")
    authority_cli(data, "account", "create", ACCOUNT)
    authority_cli(data, "va", "create", "--account", ACCOUNT, VA)
    authority_cli(
        data, "policy", "create", "--account", ACCOUNT, "--va", VA, "--name", POLICY,
        "--unenforced-subscription", "60,60,60",
    )  # fmt: skip
    authority_cli(
        data, "purchase", "add", "--account", ACCOUNT, "--va", VA,
        "--license", "mrp-client", "--count", "10",
    )  # fmt: skip
    api = json.loads(
        authority_cli(data, "apitoken", "create", "--account", ACCOUNT, "--va", VA, "--json")
    )["token"]
    idt = json.loads(
        authority_cli(data, "token", "create", "--account", ACCOUNT, "--va", VA, "--json")
    )["token"]
    authority_cli(data, "keys", "show", "--anchor", str(root / "anchor.xml"))
    return {"api_token": api, "id_token": idt}


@pytest.fixture(scope="session")
def authority_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Built once for the whole run (all workers, under a file lock), copied per worker."""
    base = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        base = base.parent
    template = base / "authority-template"
    with (base / "authority-template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (template / "tokens.json").exists():
            template.mkdir(exist_ok=True)
            tokens = build_authority(template)
            (template / "tokens.json").write_text(json.dumps(tokens))
    return template


@pytest.fixture(scope="session")
def shared_authority(
    authority_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthorityProc]:
    """One authority process per test worker (a copy of the template); tests use own UDIs."""
    root = tmp_path_factory.mktemp("auth")
    shutil.copytree(authority_template / "authority", root / "authority")
    shutil.copy(authority_template / "anchor.xml", root / "anchor.xml")
    tokens = json.loads((authority_template / "tokens.json").read_text())
    auth = AuthorityProc(
        root / "authority", root / "anchor.xml", tokens["api_token"], tokens["id_token"],
        free_port(),
    )  # fmt: skip
    auth.start()
    yield auth
    auth.stop()


@pytest.fixture
def stoppable_authority(shared_authority: AuthorityProc) -> Iterator[AuthorityProc]:
    """The worker's authority, which this test may stop; it is running again afterwards."""
    yield shared_authority
    if shared_authority.proc is None:
        shared_authority.start()


@dataclass
class UtilityProc:
    data: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cslu_url(self) -> str:
        return f"{self.url}/cslu/v1/pi"

    def start(self, *args: str, fault: str | None = None) -> UtilityProc:
        if args:
            self.args = args
        env = dict(os.environ)
        env.pop("SMARTLIC_UTILITY_FAULT", None)
        if fault:
            env["SMARTLIC_UTILITY_FAULT"] = fault
        self.proc = start_server(
            [
                sys.executable,
                "-m",
                "smartlic.utility",
                "serve",
                "--data",
                str(self.data),
                "--port",
                str(self.port),
                *self.args,
            ],
            self.url,
            self.data.parent / f"{self.data.name}.log",
            env,
        )
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_server(self.proc)
            self.proc = None

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return utility_cli(self.data, *args, check=check)

    def json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)


@pytest.fixture
def utility(tmp_path: Path) -> Iterator[Callable[..., UtilityProc]]:
    started: list[UtilityProc] = []

    def start(*args: str, name: str = "utility", fault: str | None = None) -> UtilityProc:
        proc = UtilityProc(tmp_path / name).start(*args, fault=fault)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def connected_args(auth: AuthorityProc) -> tuple[str, ...]:
    return (
        "--authority",
        auth.url,
        "--authority-token",
        auth.api_token,
        "--account",
        ACCOUNT,
        "--va",
        VA,
        "--authority-keys",
        str(auth.anchor_file),
    )


def new_udi() -> Udi:
    return Udi.parse(f"PID:C9300-24UX,SN:FCW{secrets.token_hex(4).upper()}")


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    opened: list[Agent] = []

    def make(
        anchor: Envelope, cslu_url: str | None = None, udi: Udi | None = None, use: bool = True
    ) -> Agent:
        clock = ManualClock(int(time.time()))
        udi = udi or new_udi()
        agent = Agent.open(
            tmp_path / f"pi-{udi.sn}",
            Identity(udi, hostname=f"sw-{udi.sn.lower()}"),
            clock=clock,
            anchor=anchor,
        )
        if cslu_url:
            agent.configure(transport="cslu", cslu_url=cslu_url)
        else:
            agent.configure(transport="off")
        if use:
            agent.use("network-advantage", 1)
            agent.use("dna-advantage", 1)
        clock.advance(1800)
        opened.append(agent)
        return agent

    yield make
    for agent in opened:
        agent.close()


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on a free loopback port in a thread; yields the base URL."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(1000):
        if server.started:
            break
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def rest_device(agent: Agent, password: str = DEVICE_PASSWORD) -> Iterator[int]:
    from smartlic.instance.restapi import create_app

    with serve_in_thread(create_app(agent, "admin", password)) as base:
        yield int(base.rsplit(":", 1)[1])
