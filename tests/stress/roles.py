"""The three roles, real and on loopback, restartable: what the system state machine drives.

The authority and the utility are their own ASGI apps under uvicorn (a thread each, a fixed
port so a restart comes back where clients expect it) over their own SQLite files; product
instances are agents with their own state folders and clocks. A crash at a named fault point
is the product's own mechanism (``SMARTLIC_FAULT`` / ``SMARTLIC_UTILITY_FAULT``: ``os._exit`` in
a child process working on the same state), as in tests/instance/test_crash.py and
tests/utility/test_durability.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from smartlic.authority.app import create_app as authority_app
from smartlic.authority.clock import FixedClock
from smartlic.authority.context import Authority
from smartlic.authority.settings import Settings
from smartlic.core import xmlfile
from smartlic.core.envelope import Envelope
from smartlic.core.udi import Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.restapi import create_app as device_app
from smartlic.instance.store import FAULT_EXIT
from smartlic.lab.fleet import ACCOUNT, VA, authority_cli_run, setup_authority
from smartlic.utility.app import create_app as utility_app
from smartlic.utility.service import Utility
from smartlic.utility.upstream import Upstream
from tests.stress.faults import FaultyLink, client_over

ROOT = Path(__file__).resolve().parents[2]
DEVICE_USER = "admin"
DEVICE_PASSWORD = "stress-pw"
UTILITY_FAULT_EXIT = 86
OTHER_VA = "Elsewhere"
"""A second virtual account of the same smart account: usage must never count in both."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """An ASGI app under uvicorn in a daemon thread, on ``port``."""

    def __init__(self, app: Any, port: int) -> None:
        deadline = time.monotonic() + 30
        while not self._start(app, port):
            # A restart on the same port can race the old socket's release (or a child's).
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on port {port} did not start")
            time.sleep(0.1)

    def _start(self, app: Any, port: int) -> bool:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        config.lifespan = "off"
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                return False
            time.sleep(0.005)
        return True

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when the port is still taken
            self.server.run()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def build_template(folder: Path) -> dict[str, str]:
    """An authority's state made with its own CLI (account, VA, policy, purchases, tokens)."""
    tokens: dict[str, str] = setup_authority(folder)
    data = folder / "authority"
    authority_cli_run(data, "va", "create", "--account", ACCOUNT, OTHER_VA)
    made = authority_cli_run(data, "apitoken", "create", "--account", ACCOUNT, "--json")
    tokens["account_token"] = json.loads(made)["token"]
    (folder / "tokens.json").write_text(json.dumps(tokens))
    return tokens


@dataclass
class AuthorityRole:
    """The authority: restartable app over a copy of the template's database and keys."""

    data: Path
    anchor_bytes: bytes
    api_token: str
    account_token: str
    id_token: str
    clock: FixedClock
    port: int = field(default_factory=free_port)
    served: Served | None = None
    context: Authority | None = None
    va_id: str | None = None
    other_va_id: str | None = None

    @classmethod
    def from_template(cls, template: Path, folder: Path, start: int) -> AuthorityRole:
        shutil.copytree(template / "authority", folder / "authority")
        tokens = json.loads((template / "tokens.json").read_text())
        return cls(
            folder / "authority",
            (template / "anchor.xml").read_bytes(),
            tokens["api_token"],
            tokens["account_token"],
            tokens["id_token"],
            FixedClock(start),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def anchor(self) -> Envelope:
        return xmlfile.read(self.anchor_bytes)[0]

    @property
    def running(self) -> bool:
        return self.served is not None

    def start(self) -> None:
        settings = Settings(data=self.data, trust_per_minute=0)
        self.context = Authority.open(settings.url, settings.keys, self.clock)
        self.served = Served(authority_app(settings, authority=self.context), self.port)
        if self.va_id is None:
            self.va_id = self._va_id(VA)
            self.other_va_id = self._va_id(OTHER_VA)

    def stop(self) -> None:
        """A crash between requests: the server goes away; what it committed stays."""
        if self.served is not None:
            self.served.stop()
            self.served = None
        if self.context is not None:
            self.context.engine.dispose()
            self.context = None

    def rotate_keys(self) -> None:
        """What ``smartlic authority keys rotate`` does, at the authority's (simulated) time;
        the running app picks the new key set up by itself."""
        Settings(data=self.data).keys.rotate(self.clock.now())

    def _auth(self) -> dict[str, str]:
        """The account-wide admin token (the utility's token is limited to its VA)."""
        return {"Authorization": f"Bearer {self.account_token}"}

    def _va_id(self, name: str) -> str:
        reply = httpx.get(f"{self.url}/api/v1/virtual-accounts", headers=self._auth(), timeout=20)
        reply.raise_for_status()
        body = reply.json()
        items = body["items"] if isinstance(body, dict) else body
        return str(next(v["id"] for v in items if v["name"] == name))

    def upload_usage(self, data: bytes, *, other_va: bool = False) -> httpx.Response:
        """A usage file in (device XML or utility tar.gz), its ACK file out."""
        va_id = self.other_va_id if other_va else self.va_id
        return httpx.post(
            f"{self.url}/api/v1/virtual-accounts/{va_id}/usage-files",
            content=data,
            headers=self._auth(),
            timeout=60,
        )

    def usage_rows(self, udis: list[str]) -> list[tuple[str, str, int, str, int, str]]:
        """(VA id, UDI, report id, digest, count, license) of every stored report of ``udis``."""
        marks = ",".join("?" * len(udis))
        with sqlite3.connect(self.data / "authority.db") as db:
            columns = "va_id, udi, report_id, digest, count, license_name"
            query = f"SELECT {columns} FROM usage_reports WHERE udi IN ({marks})"  # noqa: S608
            rows = db.execute(query, udis).fetchall()
        return [(str(a), str(b), int(c), str(d), int(e), str(f)) for a, b, c, d, e, f in rows]

    def chain(self) -> list[Envelope]:
        """The published key-set chain, anchor first (what a verifier walks)."""
        chain: list[Envelope] = Settings(data=self.data).keys.chain()
        return chain


@dataclass
class UtilityRole:
    """The utility, in this process, restartable; a crash runs it in a child at a fault point."""

    data: Path
    authority: AuthorityRole
    port: int = field(default_factory=free_port)
    service: Utility | None = None
    served: Served | None = None
    link: FaultyLink = field(default_factory=FaultyLink)
    connected: bool = True

    @property
    def cslu_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cslu/v1/pi"

    def _upstream(self, url: str, token: str | None, tenant: str | None) -> Upstream:
        return Upstream(url, token, tenant=tenant, backoff=0.01, client=client_over(self.link))

    def start(self) -> None:
        first = not self.data.exists()
        service = Utility(
            self.data,
            clock=lambda: float(self.authority.clock.now()),
            upstream_factory=self._upstream,
        )
        if first:
            service.configure(
                connected=True,
                authority_url=self.authority.url,
                authority_token=self.authority.api_token,
                account=ACCOUNT,
                va=VA,
                authority_keys=self.authority.anchor_bytes,
            )
        self.service = service
        self.served = Served(utility_app(service), self.port)

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop()
            self.served = None
        if self.service is not None:
            self.service.close()
            self.service = None

    @property
    def running(self) -> bool:
        return self.service is not None

    def set_connected(self, connected: bool) -> None:
        assert self.service is not None
        if connected:
            self.service.configure(connected=True, authority_url=self.authority.url)
        else:
            self.service.configure(connected=False)
        self.connected = connected

    def child(self, fault: str, *args: str) -> subprocess.Popen[bytes]:
        """``python -m smartlic.utility ARGS --data DATA`` armed to die at ``fault``."""
        env = {**os.environ, "SMARTLIC_UTILITY_FAULT": fault}
        return subprocess.Popen(
            [sys.executable, "-m", "smartlic.utility", *args, "--data", str(self.data)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def serve_child(self, fault: str) -> subprocess.Popen[bytes]:
        proc = self.child(fault, "serve", "--port", str(self.port))
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"utility child exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    return proc
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("utility child did not start")
            time.sleep(0.05)


class _CurrentDevice:
    """ASGI: the device REST API of whatever agent object the instance has now (after a
    restart the agent is a new object; the utility still knows the device by host and port)."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.app: Any = None
        self.for_agent: Agent | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        agent = self.instance.agent
        if self.app is None or self.for_agent is not agent:
            self.app = device_app(agent, DEVICE_USER, DEVICE_PASSWORD)
            self.for_agent = agent
        await self.app(scope, receive, send)


@dataclass
class Instance:
    """One product instance: an agent, its state folder, its own clock and HTTP link."""

    name: str
    topology: str
    state: Path
    udi: Udi
    clock: ManualClock
    agent: Agent
    link: FaultyLink
    served: Served | None = None
    port: int = 0

    @classmethod
    def create(
        cls, name: str, topology: str, folder: Path, udi: Udi, now: int, anchor: Envelope
    ) -> Instance:
        clock = ManualClock(now)
        link = FaultyLink()
        agent = Agent.open(
            folder,
            Identity(udi, hostname=name),
            clock=clock,
            anchor=anchor,
            http_client=client_over(link),
        )
        return cls(name, topology, folder, udi, clock, agent, link)

    def serve_rest(self) -> int:
        self.port = free_port()
        self.served = Served(_CurrentDevice(self), self.port)
        return self.port

    def reopen(self) -> None:
        """Start again from what is on disk (reports left open close with reason Reload), with
        the same clock, as an embedder restarting its agent would."""
        self.agent = Agent.open(self.state, clock=self.clock, http_client=client_over(self.link))

    def crash_in_child(self, point: str, operation: str, *args: str) -> int:
        """Stop the agent, run ``operation`` in a child that dies at ``point``, start again."""
        self.agent.close()
        env = {**os.environ, "CRASH_AT": point}
        env.pop("SMARTLIC_FAULT", None)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.instance.crash_worker",
                str(self.state),
                operation,
                str(self.clock.now()),
                *args,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if operation == "close":
            self.clock.advance(900)  # the child's clock moved 15 minutes
        self.reopen()
        return done.returncode

    def close(self) -> None:
        if self.served is not None:
            self.served.stop()
            self.served = None
        self.agent.close()


__all__ = [
    "FAULT_EXIT",
    "UTILITY_FAULT_EXIT",
    "AuthorityRole",
    "Instance",
    "UtilityRole",
    "build_template",
]
