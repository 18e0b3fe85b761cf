"""A lab: an authority, utilities and a fleet of product instances in one process.

Everything is composed through the roles' public interfaces: the authority is set up with its
own CLI (``smartlic authority ...``, invoked in-process) and served by ``create_app`` with a
settable clock; a utility is a :class:`~smartlic.utility.service.Utility` served by its
``create_app`` (a connected one for push and pull, and a disconnected one, with its own folder
and port, for the instances behind an air-gapped utility); each product instance is an
:class:`~smartlic.instance.Agent` with its own :class:`~smartlic.instance.ManualClock` and its
rows in the fleet's one database (:class:`~smartlic.instance.fleet_store.FleetStore`: a file per
instance would hold three descriptors each, and ten thousand instances would run out), reachable
over one shared device REST server (``/<hostname>/smartlic-service/...``) and one shared SSH
server (log in as ``<hostname>`` or as the UDI). Instances the utility pulls from get a port each
(the utility addresses a device by host and port), all served by one server thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from typer.testing import CliRunner

from smartlic._asyncssh import asyncssh
from smartlic.authority.app import create_app as authority_app
from smartlic.authority.cli import app as authority_cli
from smartlic.authority.clock import FixedClock
from smartlic.authority.settings import Settings
from smartlic.core import xmlfile
from smartlic.core.envelope import Envelope
from smartlic.core.errors import SmartLicError
from smartlic.core.timefmt import DAY
from smartlic.core.udi import HaMember, HaRole, HaSet, Udi
from smartlic.instance import Agent, Identity, ManualClock
from smartlic.instance.fleet_store import FleetStore
from smartlic.instance.restapi import create_app as device_app
from smartlic.instance.shell.session import Device
from smartlic.instance.shell.ssh import ShellSession, load_host_key
from smartlic.instance.store import atomic_write
from smartlic.utility.app import create_app as utility_app
from smartlic.utility.service import Utility

TOPOLOGIES = ("direct", "cslu-push", "cslu-pull", "cslu-disconnected", "air-gapped", "mixed")
"""Reference §3: connected directly, through a utility (push, pull), a disconnected utility,
no connectivity (air gap); ``mixed`` spreads the fleet over all of them."""
MIXED = ("direct", "cslu-push", "cslu-pull", "cslu-disconnected", "air-gapped")

ACCOUNT = "Example Corp"
VA = "Campus"
POLICY = "Campus Policy"
USERNAME = "admin"
DESCRIPTION = "lab.json"
STARTED = "starting.count"
"""While ``lab up`` starts a lab, how many instances are up (for the CLI's progress bar)."""
CONNECTED, DISCONNECTED = "connected", "disconnected"
"""The lab's two utilities: one connected to the authority (push and pull instances), one
disconnected (its files cross the air gap: Download All For Cisco, Upload From Cisco)."""
BATCH = 250
"""Instances created per commit of the fleet store while a lab starts."""

# Realistic catalogue of platforms (PID, serial prefix, hostname prefix).
PLATFORMS = (
    ("C9300-24UX", "FCW", "sw"),
    ("C9300-48P", "FOC", "sw"),
    ("C9500-32C", "FDO", "core"),
    ("C9200L-24T-4G", "JAE", "acc"),
)
PURCHASES = (
    ("network-advantage", 100_000, None),
    ("network-essentials", 100_000, None),
    ("dna-advantage", 100_000, "2030-12-31"),
    ("dna-essentials", 100_000, "2030-12-31"),
    ("hseck9", 100_000, None),
    ("mrp-client", 1_000, None),
)


@dataclass
class Member:
    """One product instance of the lab (the description kept in lab.json)."""

    hostname: str
    udi: str
    topology: str
    state: str
    ha: list[str] = field(default_factory=list)
    licenses: dict[str, int] = field(default_factory=dict)


def _serial(prefix: str, index: int) -> str:
    return f"{prefix}{2300 + index // 1000:04d}{'ABCDEFGHJK'[index // 100 % 10]}{index % 100:02d}Y"


def plan_fleet(count: int, topology: str) -> list[Member]:
    """Hostnames, UDIs, HA stacks and licenses for ``count`` instances (deterministic)."""
    if topology not in TOPOLOGIES:
        raise ValueError(f"unknown topology {topology!r}; one of {', '.join(TOPOLOGIES)}")
    members = []
    for i in range(count):
        pid, prefix, host = PLATFORMS[i % len(PLATFORMS)]
        udi = f"PID:{pid},SN:{_serial(prefix, i)}"
        where = MIXED[i % len(MIXED)] if topology == "mixed" else topology
        licenses = {"network-advantage": 1, "dna-advantage": 1}
        if i % 3 == 1:
            licenses = {"network-essentials": 1, "dna-essentials": 1}
        ha: list[str] = []
        if i % 7 == 3:  # one device in seven is a stack: Active, Standby and a Member
            ha = [udi, f"PID:{pid},SN:{_serial(prefix, 50_000 + i)}"]
            ha.append(f"PID:{pid},SN:{_serial(prefix, 60_000 + i)}")
            licenses = dict.fromkeys(licenses, 3)
        members.append(
            Member(f"{host}-{i + 1}", udi, where, f"instances/{host}-{i + 1}", ha, licenses)
        )
    return members


def _identity(member: Member) -> Identity:
    ha = None
    if member.ha:
        roles = [HaRole.ACTIVE, HaRole.STANDBY] + [HaRole.MEMBER] * (len(member.ha) - 2)
        ha = HaSet(tuple(HaMember(r, Udi.parse(u)) for r, u in zip(roles, member.ha, strict=True)))
    return Identity(Udi.parse(member.udi), hostname=member.hostname, ha=ha)


def authority_cli_run(data: Path, *args: str) -> str:
    """``smartlic authority ARGS --data DATA``, in-process; raises on a non-zero exit."""
    result = CliRunner().invoke(authority_cli, [*args, "--data", str(data)])
    if result.exit_code != 0:
        raise RuntimeError(f"smartlic authority {shlex.join(args)}: {result.output.strip()}")
    return result.output


def setup_authority(root: Path) -> dict[str, str]:
    """An authority's state built with its CLI: account, VA, policy, purchases, tokens, anchor."""
    data = root / "authority"
    authority_cli_run(data, "init")
    authority_cli_run(data, "account", "create", ACCOUNT)
    authority_cli_run(data, "va", "create", "--account", ACCOUNT, "--allow-export", VA)
    authority_cli_run(
        data, "policy", "create", "--account", ACCOUNT, "--va", VA, "--name", POLICY,
        "--unenforced-subscription", "60,60,60",
    )  # fmt: skip
    for name, count, end in PURCHASES:
        extra = ["--end", end] if end else []
        authority_cli_run(
            data, "purchase", "add", "--account", ACCOUNT, "--va", VA,
            "--license", name, "--count", str(count), *extra,
        )  # fmt: skip
    scope = ("--account", ACCOUNT, "--va", VA, "--json")
    api = json.loads(authority_cli_run(data, "apitoken", "create", *scope))["token"]
    idt = json.loads(authority_cli_run(data, "token", "create", *scope))["token"]
    authority_cli_run(data, "keys", "show", "--anchor", str(root / "anchor.xml"))
    password = secrets.token_urlsafe(9)
    authority_cli_run(
        data, "user", "create", "--account", ACCOUNT, "--username", "labadmin",
        "--password", password, "--role", "admin",
    )  # fmt: skip
    return {
        "api_token": api,
        "id_token": idt,
        "portal_user": "labadmin",
        "portal_password": password,
    }


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


class _Server(threading.Thread):
    """An ASGI app under uvicorn on loopback ports (one or many), in a daemon thread."""

    def __init__(self, app: Any, port: int = 0, *, ports: list[int] | None = None) -> None:
        super().__init__(daemon=True)
        self.sockets: list[socket.socket] = []
        try:
            for wanted in [port] if ports is None else ports:
                self.sockets.append(_listen(wanted))
        except OSError:
            for sock in self.sockets:
                sock.close()
            raise
        config = uvicorn.Config(app, log_level="warning", backlog=256)
        config.lifespan = "off"
        self.server = uvicorn.Server(config)
        self.start()
        for _ in range(6000):
            if self.server.started or not self.is_alive():
                break
            time.sleep(0.005)
        self.ports = [int(sock.getsockname()[1]) for sock in self.sockets]
        self.port = self.ports[0]

    def run(self) -> None:
        self.server.run(sockets=self.sockets)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.join(timeout=10)
        for sock in self.sockets:
            sock.close()


class _DeviceRouter:
    """ASGI: ``/<hostname>/smartlic-service/...`` to that instance's REST app (made on first
    use, so a fleet of thousands does not build thousands of apps up front)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.apps: dict[str, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        host, _, rest = scope["path"].lstrip("/").partition("/")
        name = self.lab.hostname(host)
        if name is None:
            body = b'{"detail": "no such instance in the lab"}'
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        app = self.apps.get(host)
        if app is None:
            app = device_app(self.lab.agents[name], USERNAME, self.lab.password)
            self.apps[host] = app
        prefix = f"/{host}"
        child = dict(scope, path="/" + rest, root_path=scope.get("root_path", "") + prefix)
        await app(child, receive, send)


class _PullRouter:
    """ASGI: a request to port P goes to the REST app of the instance the utility pulls from at
    P (apps made on first use, as in :class:`_DeviceRouter`)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.hosts: dict[int, str] = {}
        self.apps: dict[int, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        port = int(scope["server"][1])
        app = self.apps.get(port)
        if app is None:
            app = device_app(self.lab.agents[self.hosts[port]], USERNAME, self.lab.password)
            self.apps[port] = app
        await app(scope, receive, send)


class _Router(asyncssh.SSHServer):
    """SSH logins name the device: user ``<hostname>`` (or its UDI), the lab password."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.device: Device | None = None

    def begin_auth(self, username: str) -> bool:
        self.device = self.lab.device(username)
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        ok = secrets.compare_digest(password.encode(), self.lab.password.encode())
        return ok and self.device is not None

    def session_requested(self) -> ShellSession:
        assert self.device is not None
        return ShellSession(self.device)


class Lab:
    """A running lab. Build with :meth:`create` (new folder) or :meth:`open` (existing one)."""

    def __init__(self, folder: Path, description: dict[str, Any]) -> None:
        self.folder = folder
        self.description = description
        self.members = [Member(**m) for m in description["members"]]
        self.password: str = description["password"]
        self.tokens: dict[str, str] = description["tokens"]
        self.agents: dict[str, Agent] = {}
        self.clocks: dict[str, ManualClock] = {}
        self.devices: dict[str, Device] = {}
        """Shell devices, made on first use (a command tree per device is most of the cost of
        starting an instance, and most instances of a large fleet are never logged into)."""
        self.by_udi = {m.udi: m.hostname for m in self.members}
        self.authority_clock = FixedClock(int(description["start"]))
        self.authority: _Server | None = None
        self.utilities: dict[str, Utility] = {}
        self.utility_servers: dict[str, _Server] = {}
        self.rest: _Server | None = None
        self.ssh_port: int | None = None
        self.pull_server: _Server | None = None
        self.fleet: FleetStore | None = None
        self.http = httpx.Client(timeout=30.0)
        """One HTTP client for every instance's pushes: a client per push would load the CA
        bundle each time (tens of milliseconds) and open a new connection."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self.messages: list[str] = []
        self.progress = (0, 0)
        """(instance-days done, instance-days to do) of the running ``advance``."""

    # --- building ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        instances: int = 6,
        topology: str = "mixed",
        template: Path | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Lab:
        """Set up a new lab in ``folder`` and start it. ``template``: a folder made by
        :func:`setup_authority` to copy instead of running the authority's CLI again."""
        import shutil

        folder.mkdir(parents=True, exist_ok=True)
        if template is not None:
            shutil.copytree(template / "authority", folder / "authority")
            shutil.copy(template / "anchor.xml", folder / "anchor.xml")
            tokens = json.loads((template / "tokens.json").read_text())
        else:
            tokens = setup_authority(folder)
        members = plan_fleet(instances, topology)
        description: dict[str, Any] = {
            "topology": topology,
            "start": int(time.time()),
            "password": secrets.token_urlsafe(9),
            "tokens": tokens,
            "account": ACCOUNT,
            "va": VA,
            "store": "fleet",
            "members": [asdict(m) for m in members],
        }
        lab = cls(folder, description)
        lab.start(progress=progress, first=True)
        return lab

    @classmethod
    def open(cls, folder: Path, *, progress: Callable[[int], None] | None = None) -> Lab:
        lab = cls(folder, json.loads((folder / DESCRIPTION).read_text()))
        lab.start(progress=progress)
        return lab

    @property
    def anchor(self) -> Envelope:
        return xmlfile.read((self.folder / "anchor.xml").read_bytes())[0]

    @property
    def needs_utility(self) -> bool:
        return bool(self.utility_kinds)

    @property
    def utility_kinds(self) -> list[str]:
        """The utilities this fleet needs: connected (push, pull), disconnected, or both."""
        kinds = {m.topology for m in self.members}
        wanted = [CONNECTED] if kinds & {"cslu-push", "cslu-pull"} else []
        return wanted + ([DISCONNECTED] if "cslu-disconnected" in kinds else [])

    @property
    def utility(self) -> Utility | None:
        """The connected utility, or the disconnected one in a lab that has only that."""
        return self.utilities.get(CONNECTED, self.utilities.get(DISCONNECTED))

    @property
    def utility_server(self) -> _Server | None:
        return self.utility_servers.get(CONNECTED, self.utility_servers.get(DISCONNECTED))

    def start(self, *, progress: Callable[[int], None] | None = None, first: bool = False) -> None:
        settings = Settings(data=self.folder / "authority", trust_per_minute=0)
        self.authority = _Server(
            authority_app(settings, clock=self.authority_clock),
            self.description.get("authority_port", 0),
        )
        for kind in self.utility_kinds:
            self.start_utility(kind)
        if self.description.get("store") == "fleet":
            self.fleet = FleetStore(self.folder / "instances")
        anchor = self.anchor
        for at in range(0, len(self.members), BATCH):
            with self.fleet.batch() if self.fleet is not None else contextlib.nullcontext():
                for member in self.members[at : at + BATCH]:
                    self._start_one(member, anchor, first)
                    if progress is not None:
                        progress(1)
        self._serve_devices()
        self.description.update(
            authority_port=self.authority.port,
            rest_port=self.rest.port if self.rest else None,
            ssh_port=self.ssh_port,
            **{self._port_key(k): s.port for k, s in self.utility_servers.items()},
        )
        self.save()

    def _start_one(self, member: Member, anchor: Envelope, first: bool) -> None:
        clock = ManualClock(self.authority_clock.now())
        folder = self.folder / member.state
        agent = Agent.open(
            folder,
            _identity(member),
            clock=clock,
            anchor=anchor,
            on_message=lambda entry, host=member.hostname: self.messages.append(
                f"{host}: {entry.console_line()}"
            ),
            store=None if self.fleet is None else self.fleet.scope(member.udi, folder),
            http_client=self.http,
        )
        self.agents[member.hostname] = agent
        self.clocks[member.hostname] = clock
        if first:
            self._configure(member, agent)

    @staticmethod
    def _port_key(kind: str) -> str:
        return "utility_port" if kind == CONNECTED else "disconnected_utility_port"

    def utility_url(self, kind: str) -> str:
        """Where the instances of a utility push (``/cslu/v1/pi``)."""
        port = self.description.get(self._port_key(kind)) or self.utility_servers[kind].port
        return f"http://127.0.0.1:{port}/cslu/v1/pi"

    def start_utility(self, kind: str | None = None) -> None:
        """Start (or restart, after the ``utility-down`` fault) a utility (default: connected,
        else the disconnected one)."""
        assert self.authority is not None
        kind = kind or self.utility_kinds[0]
        connected = kind == CONNECTED
        folder = self.folder / ("utility" if connected else "utility-disconnected")
        utility = Utility(folder, clock=lambda: float(self.authority_clock.now()))
        utility.configure(
            connected=connected,
            authority_url=self.authority.url if connected else None,
            authority_token=self.tokens["api_token"] if connected else None,
            account=ACCOUNT,
            va=VA,
            authority_keys=(self.folder / "anchor.xml").read_bytes(),
        )
        self.utilities[kind] = utility
        self.utility_servers[kind] = _Server(
            utility_app(utility), self.description.get(self._port_key(kind)) or 0
        )

    def stop_utility(self, kind: str | None = None) -> None:
        kind = kind or self.utility_kinds[0]
        server = self.utility_servers.pop(kind, None)
        if server is not None:
            server.stop()
        utility = self.utilities.pop(kind, None)
        if utility is not None:
            utility.close()

    def _configure(self, member: Member, agent: Agent) -> None:
        assert self.authority is not None
        if member.topology == "direct":
            agent.configure(transport="smart", smart_url=f"{self.authority.url}/licservice/license")
        elif member.topology == "cslu-push":
            agent.configure(transport="cslu", cslu_url=self.utility_url(CONNECTED))
        elif member.topology == "cslu-disconnected":
            agent.configure(transport="cslu", cslu_url=self.utility_url(DISCONNECTED))
        else:  # cslu-pull and air-gapped: the device never initiates
            agent.configure(transport="off")
        for name, count in member.licenses.items():
            agent.use(name, count)

    def _serve_devices(self) -> None:
        self.rest = _Server(_DeviceRouter(self), self.description.get("rest_port", 0))
        # The utility's inventory addresses a device by host and port: the instances behind a
        # utility get a port each, in the inventory of theirs (the connected one pulls from
        # cslu-pull; the disconnected one can pull too: CSLU initiated, disconnected).
        ports = self.description.setdefault("pull_ports", {})
        owner = {"cslu-pull": CONNECTED, "cslu-disconnected": DISCONNECTED}
        pulled = [m for m in self.members if m.topology in owner]
        if pulled:
            router = _PullRouter(self)
            self.pull_server = _Server(router, ports=[ports.get(m.hostname, 0) for m in pulled])
            for m, port in zip(pulled, self.pull_server.ports, strict=True):
                router.hosts[port] = m.hostname
                ports[m.hostname] = port
                utility = self.utilities.get(owner[m.topology])
                if utility is not None:
                    utility.add_device("127.0.0.1", port, USERNAME, self.password, m.udi)
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._loop_thread.start()
        key = load_host_key(self.folder)

        async def listen() -> asyncssh.SSHAcceptor:
            return await asyncssh.create_server(
                lambda: _Router(self),
                "127.0.0.1",
                self.description.get("ssh_port") or 0,
                server_host_keys=[key],
                encoding="utf-8",
                errors="replace",
                line_editor=False,
            )

        future = asyncio.run_coroutine_threadsafe(listen(), loop)
        self._acceptor = future.result(timeout=30)
        self.ssh_port = int(self._acceptor.sockets[0].getsockname()[1])

    def save(self) -> None:
        self.description["members"] = [asdict(m) for m in self.members]
        # Atomic: `lab up` and `lab status` read it while the lab process writes it.
        atomic_write(self.folder / DESCRIPTION, json.dumps(self.description, indent=2).encode())

    def close(self) -> None:
        if self._loop is not None:
            loop, acceptor = self._loop, self._acceptor

            async def shutdown() -> None:
                if acceptor is not None:
                    acceptor.close()
                    await acceptor.wait_closed()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(timeout=10)
            loop.close()
            self._loop = None
        servers = (self.rest, self.pull_server, self.authority, *self.utility_servers.values())
        for server in servers:
            if server is not None:
                server.stop()
        for utility in self.utilities.values():
            utility.close()
        for agent in self.agents.values():
            with contextlib.suppress(Exception):
                agent.close()
        if self.fleet is not None:
            self.fleet.close()
        self.http.close()

    # --- operating --------------------------------------------------------------------------

    def hostname(self, name: str) -> str | None:
        """The hostname of an instance named by hostname or UDI."""
        return name if name in self.agents else self.by_udi.get(name)

    def device(self, name: str) -> Device | None:
        """A device (its shell) by hostname or UDI."""
        host = self.hostname(name)
        if host is None:
            return None
        device = self.devices.get(host)
        if device is None:
            device = self.devices[host] = Device(self.agents[host], hostname=host)
        return device

    def select(self, names: str | list[str] | None) -> list[str]:
        """Hostnames for ``all``, a topology name, a hostname or UDI, or a list of those."""
        if names is None or names == "all":
            return [m.hostname for m in self.members]
        if isinstance(names, str):
            names = [names]
        out: list[str] = []
        for name in names:
            if name in TOPOLOGIES:
                found = [m.hostname for m in self.members if m.topology == name]
                if not found:  # a step on nothing would pass without checking anything
                    raise KeyError(f"no {name} instance in the lab")
                out += found
            else:
                host = self.hostname(name)
                if host is None:
                    raise KeyError(f"no instance {name!r} in the lab")
                out.append(host)
        return out

    def cli(self, hostname: str, line: str) -> str:
        """One device CLI line, run through the shell's command tree in privileged mode."""
        device = self.device(hostname)
        if device is None:
            raise KeyError(f"no instance {hostname!r} in the lab")
        session = device.session(privileged=True)
        out = []
        for part in line.split("\n"):
            if part.strip():
                out.append(session.execute(part))
        return "".join(out)

    def advance(self, seconds: int, names: str | list[str] | None = None) -> list[str]:
        """Move clocks forward (day by day), running each instance's due work as it goes."""
        hosts = self.select(names)
        lines: list[str] = []
        step = DAY
        remaining = seconds
        total, done = -(-seconds // step) * len(hosts), 0
        self.progress = (0, total)
        while remaining > 0:
            delta = min(step, remaining)
            remaining -= delta
            for host in hosts:
                self.clocks[host].advance(delta)
            latest = max(c.now() for c in self.clocks.values())
            if latest > self.authority_clock.now():
                self.authority_clock.value = latest
            for host in hosts:
                try:
                    lines += [f"{host}: {line}" for line in self.agents[host].tick()]
                except SmartLicError as exc:
                    lines.append(f"{host}: {exc.reason}")
                done += 1
                self.progress = (done, total)
        return lines

    def rows(self) -> list[dict[str, Any]]:
        """One summary row per instance (``smartlic lab status``)."""
        out = []
        for m in self.members:
            status = self.agents[m.hostname].status()
            out.append(
                {
                    "hostname": m.hostname,
                    "udi": m.udi,
                    "topology": m.topology,
                    "ha": len(m.ha) or 1,
                    "trust": status.trust_installed,
                    "policy": status.policy_name or "-",
                    "unacked": status.summary.waiting_for_ack,
                    "last_ack": status.last_ack_at,
                    "next_ack_deadline": status.next_ack_deadline,
                    "now": status.now,
                }
            )
        return out

    def urls(self) -> dict[str, str]:
        """What a person opens or points a device at; every value but the SSH command answers
        a GET (a push endpoint with 405 and a line saying what it is for)."""
        base = self.authority.url if self.authority else "-"
        out = {
            "authority portal": f"{base}/portal/",
            "authority API docs": f"{base}/docs",
            "authority push endpoint": f"{base}/cslu/v1/pi",
        }
        for kind, server in self.utility_servers.items():
            name = "utility" if kind == CONNECTED else "utility (disconnected)"
            out[f"{name} console"] = f"{server.url}/console/"
            out[f"{name} push endpoint"] = f"{server.url}/cslu/v1/pi"
        example = self.members[0].hostname if self.members else "<hostname>"
        if self.rest is not None:
            out["device REST API"] = f"{self.rest.url}/{example}/ (any hostname or UDI)"
        out["device SSH"] = f"ssh -p {self.ssh_port} {example}@127.0.0.1 (user: any hostname)"
        return out


@contextlib.contextmanager
def running(folder: Path, **options: Any) -> Iterator[Lab]:
    lab = Lab.create(folder, **options)
    try:
        yield lab
    finally:
        lab.close()
