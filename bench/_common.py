"""What the system benchmarks and the load test share.

- ``provision``: an authority's state built with its own CLI (through the lab's
  ``setup_authority``): smart account, virtual account, policy, purchases, an API token for the
  utility, a portal user and the anchor key set an instance ships with.
- ``authority_process`` / ``utility_process``: the real ``smartlic authority serve`` and
  ``smartlic utility serve`` commands as child processes on loopback ports.
- ``make_fleet``: emulated product instances. Each has its own Ed25519 key and reports built and
  signed with the real ``core`` artifacts before any clock starts, so the load generator spends
  its time on HTTP, not on signing.
- ``push``: every instance sends its ``usage_report`` to ``/cslu/v1/pi`` over real HTTP, ``C``
  in flight, and polls (``result_poll``) until its ACK arrives; the time from the first byte sent
  to the ACK in hand is the instance's ACK latency.
- ``check_acks``: every ACK verified as an instance installs it (authority signature under the
  anchor's key set, its UDI, each acknowledged report id bound to the digest of the report sent)
  and every report acknowledged exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from smartlic.core import xmlfile
from smartlic.core.artifacts import Ack, Measurement, RumReport, payload_digest
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import Verifier
from smartlic.core.protocol import InstanceState, Kind, Request, Response, Status
from smartlic.core.udi import HaSet, Udi

POLL_SECONDS = 0.2
"""How soon an emulated instance polls after ``OK_POLL`` (a device waits ``retry_after``; the
benchmarks want the ACK as soon as it exists)."""


def say(text: str) -> None:
    """Progress on stderr, so a long run shows it is alive and stdout stays machine-readable."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (``p`` in 0..100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- the authority and the utility as processes ------------------------------------------------


@dataclass(frozen=True)
class Provisioned:
    root: Path
    api_token: str
    portal_user: str
    portal_password: str
    account: str
    va: str

    @property
    def authority_data(self) -> Path:
        return self.root / "authority"

    @property
    def anchor_file(self) -> Path:
        return self.root / "anchor.xml"

    def anchor(self) -> Envelope:
        return xmlfile.read(self.anchor_file.read_bytes())[0]


def provision(root: Path) -> Provisioned:
    from smartlic.lab.fleet import ACCOUNT, VA, setup_authority

    tokens = setup_authority(root)
    return Provisioned(
        root, tokens["api_token"], tokens["portal_user"], tokens["portal_password"], ACCOUNT, VA
    )


@dataclass
class Child:
    """A served role: its base URL and process (for its CPU time and its log)."""

    base: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its children (uvicorn's workers) so far."""
        return sum(_cpu(pid) for pid in _tree(self.proc.pid))

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out.extend(_tree(int(child)))
    return out


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@contextlib.contextmanager
def _serving(args: list[str], log: Path, health: str, timeout: float = 60) -> Iterator[Child]:
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smartlic", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    child = Child(f"http://127.0.0.1:{port}", proc, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(child.base + health, timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"smartlic {args[0]} serve did not start:\n{child.tail()}")
            time.sleep(0.1)
        yield child
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def authority_process(setup: Provisioned, *, workers: int = 2) -> Iterator[Child]:
    """``smartlic authority serve --workers N`` over the provisioned data folder (SQLite)."""
    data = setup.authority_data
    args = ["authority", "serve", "--data", str(data), "--workers", str(workers)]
    with _serving(args, setup.root / "authority.log", "/healthz") as child:
        for _ in range(workers * 4):  # every worker opens its engine before the clock starts
            httpx.get(child.base + "/healthz", timeout=10)
        yield child


@contextlib.contextmanager
def utility_process(setup: Provisioned, authority: str, data: Path) -> Iterator[Child]:
    """``smartlic utility serve`` connected to ``authority`` with the VA's API token; the
    timed upload is off, so every ACK comes back on the instance's own request."""
    args = [
        "utility", "serve", "--data", str(data), "--authority", authority,
        "--authority-token", setup.api_token, "--account", setup.account, "--va", setup.va,
        "--authority-keys", str(setup.anchor_file), "--upload-every", "0",
    ]  # fmt: skip
    with _serving(args, setup.root / f"utility-{data.name}.log", "/healthz") as child:
        yield child


# --- emulated product instances -----------------------------------------------------------------


@dataclass
class Emulated:
    """One product instance reduced to what reporting needs: identity, key, signed reports."""

    udi: Udi
    reports: list[Envelope]
    digests: dict[int, str]
    counted: int
    """Sum of the counts its reports measure: what the authority must hold for it."""

    def usage_request(self, now: int) -> bytes:
        return Request(
            kind=Kind.USAGE_REPORT,
            message_id=uuid.uuid4().hex,
            sent_at=now,
            udi=self.udi,
            ha=HaSet.standalone(self.udi),
            state=InstanceState(keyset_version=1),
            hostname=f"sw-{self.udi.sn.lower()}",
            reports=tuple(self.reports),
        ).to_bytes()

    def poll_request(self, poll_id: str, now: int) -> bytes:
        return Request(
            kind=Kind.RESULT_POLL,
            message_id=uuid.uuid4().hex,
            sent_at=now,
            udi=self.udi,
            ha=HaSet.standalone(self.udi),
            state=InstanceState(keyset_version=1),
            poll_id=poll_id,
        ).to_bytes()


def make_fleet(
    n: int, reports: int, now: int, *, tag: str = "LD", progress: bool = True
) -> list[Emulated]:
    """``n`` instances with their own keys and ``reports`` builtin-signed reports each. ``tag``
    keeps the serial numbers of different fleets apart (two letters)."""
    catalog = default_catalog()
    lic = catalog.get("dna-advantage")
    software_id = catalog.platform.software_id
    nonce = uuid.uuid4().hex[:4].upper()
    fleet = []
    step = max(1, n // 10)
    for i in range(n):
        key = SigningKey.generate()
        udi = Udi.parse(f"PID:C9300-24UX,SN:{tag}{nonce}{i:07d}")
        ha = HaSet.standalone(udi)
        envelopes, digests, counted = [], {}, 0
        for r in range(reports):
            count = 1 + (i + r) % 4
            report = RumReport(
                report_id=now - reports + r + 1,
                asset_name=software_id,
                udi=udi,
                signing_type=SigningType.BUILTIN,
                public_key=key.public,
                entitlement_tag=lic.entitlement_tag,
                license_name=lic.name,
                software_version="17.09.02",
                hostname=f"sw-{i}",
                ha=ha,
                utility_enabled=True,
                previous_report_id=now - reports + r if r else 0,
                measurements=(Measurement(now - 3600, now, now, 900, 4, count),),
            )
            envelope = sign(ArtifactType.RUM, report.to_json(), key, SigningType.BUILTIN)
            envelopes.append(envelope)
            digests[report.report_id] = payload_digest(envelope)
            counted += count
        fleet.append(Emulated(udi, envelopes, digests, counted))
        if progress and n >= 10_000 and (i + 1) % step == 0:
            say(f"  signed reports of {i + 1:,} / {n:,} instances")
    return fleet


# --- push until ACKed ---------------------------------------------------------------------------


@dataclass
class Outcome:
    instance: Emulated
    latency: float = 0.0
    polls: int = 0
    resends: int = 0
    artifacts: tuple[Envelope, ...] = ()
    error: str | None = None


@dataclass
class PushRun:
    outcomes: list[Outcome]
    seconds: float
    errors: list[str] = field(default_factory=list)

    @property
    def resends(self) -> int:
        return sum(o.resends for o in self.outcomes)

    @property
    def latencies(self) -> list[float]:
        return [o.latency for o in self.outcomes if o.error is None]


RESENDS = 3
"""A device whose connection drops re-sends the same request (reports are stored by id and
digest, so a re-send is never counted twice); the re-sends are counted and reported."""


async def _send(client: httpx.AsyncClient, path: str, body: bytes, out: Outcome) -> httpx.Response:
    for attempt in range(RESENDS + 1):
        try:
            return await client.post(path, content=body)
        except httpx.TransportError:
            if attempt == RESENDS:
                raise
            out.resends += 1
            await asyncio.sleep(POLL_SECONDS)
    raise AssertionError("unreachable")


async def _report(
    client: httpx.AsyncClient, path: str, inst: Emulated, gate: asyncio.Semaphore, deadline: float
) -> Outcome:
    out = Outcome(inst)
    async with gate:
        body = inst.usage_request(int(time.time()))
        started = time.perf_counter()
        try:
            reply = await _send(client, path, body, out)
            while True:
                if reply.status_code not in (200, 202):
                    out.error = f"HTTP {reply.status_code}: {reply.text[:300]}"
                    return out
                response = Response.parse(reply.content)
                if response.status is Status.OK:
                    break
                if response.status is not Status.OK_POLL or response.poll_id is None:
                    out.error = f"{response.error_code}: {response.error_message}"
                    return out
                if time.monotonic() > deadline:
                    out.error = "no ACK before the deadline"
                    return out
                await asyncio.sleep(min(POLL_SECONDS, response.retry_after or POLL_SECONDS))
                out.polls += 1
                poll = inst.poll_request(response.poll_id, int(time.time()))
                reply = await _send(client, path, poll, out)
        except httpx.HTTPError as exc:
            out.error = f"{type(exc).__name__}: {exc}"
            return out
        out.latency = time.perf_counter() - started
        out.artifacts = response.artifacts
    return out


async def _push_all(
    base: str, path: str, fleet: list[Emulated], concurrency: int, timeout: float
) -> list[Outcome]:
    gate = asyncio.Semaphore(concurrency)
    # One connection per request, as a device opens one per exchange: a pooled connection
    # shared by different instances would only race the server's keep-alive timeout.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(
        base_url=base,
        limits=limits,
        timeout=httpx.Timeout(timeout),
        headers={"Content-Type": "application/json"},
    ) as client:
        tasks = [_report(client, path, inst, gate, deadline) for inst in fleet]
        return list(await asyncio.gather(*tasks))


def push(
    base: str,
    fleet: list[Emulated],
    concurrency: int,
    *,
    timeout: float = 600,
    path: str = "/cslu/v1/pi",
) -> PushRun:
    """Every instance reports and waits for its ACK, ``concurrency`` at a time; bounded by
    ``timeout`` seconds (instances still waiting then count as errors)."""
    started = time.perf_counter()
    outcomes = asyncio.run(_push_all(base, path, fleet, concurrency, timeout))
    seconds = time.perf_counter() - started
    errors = [f"{o.instance.udi}: {o.error}" for o in outcomes if o.error is not None]
    return PushRun(outcomes, seconds, errors)


# --- what the instances see, what the authority holds ------------------------------------------


@dataclass
class AckCheck:
    acks: int = 0
    reports_acked: int = 0
    problems: list[str] = field(default_factory=list)


def check_acks(outcomes: list[Outcome], anchor: Envelope, now: int | None = None) -> AckCheck:
    """Verify every ACK as an instance would before installing it, and count each report it
    acknowledges: a report acknowledged twice, never, or under another digest is a problem."""
    verifier = Verifier.from_anchor(anchor)
    now = int(time.time()) if now is None else now
    out = AckCheck()
    ack_ids: set[str] = set()
    for outcome in outcomes:
        if outcome.error is not None:
            continue
        inst = outcome.instance
        seen: dict[int, int] = dict.fromkeys(inst.digests, 0)
        for envelope in outcome.artifacts:
            if envelope.type is not ArtifactType.ACK:
                continue
            try:
                ack = Ack.from_json(verifier.verify(envelope, ArtifactType.ACK, now=now))
                if ack.keysets:
                    verifier.update(ack.keysets)
                if ack.policy is not None:
                    verifier.verify(ack.policy, ArtifactType.POLICY, now=now)
            except Exception as exc:  # any refusal is what the benchmark must report
                out.problems.append(f"{inst.udi}: ACK refused: {exc}")
                continue
            out.acks += 1
            if ack.udi != inst.udi:
                out.problems.append(f"{inst.udi}: ACK {ack.ack_id} is for {ack.udi}")
            if ack.ack_id in ack_ids:
                out.problems.append(f"{inst.udi}: ACK {ack.ack_id} delivered twice")
            ack_ids.add(ack.ack_id)
            for item in ack.acked:
                if inst.digests.get(item.report_id) != item.digest:
                    out.problems.append(f"{inst.udi}: ACK names report {item.report_id} unsent")
                    continue
                seen[item.report_id] += 1
        for report_id, times in seen.items():
            if times != 1:
                out.problems.append(f"{inst.udi}: report {report_id} acknowledged {times} times")
            else:
                out.reports_acked += 1
    return out


def authority_counts(setup: Provisioned) -> dict[str, int]:
    """What the authority stored, read from its database (after its process stopped)."""
    db = setup.authority_data / "authority.db"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        reports, udis, counted = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT udi), COALESCE(SUM(count), 0) FROM usage_reports"
        ).fetchone()
        instances = conn.execute("SELECT COUNT(*) FROM product_instances").fetchone()[0]
    return {"reports": reports, "udis": udis, "counted": counted, "instances": instances}


def utility_counts(data: Path) -> dict[str, int]:
    from smartlic.utility.service import Utility

    utility = Utility(data)
    try:
        status = utility.status()
    finally:
        utility.close()
    return {k: int(status[k]) for k in ("instances", "reports", "reports_waiting")}


# --- portal readers -----------------------------------------------------------------------------


@dataclass
class PortalReads:
    pages: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class PortalReader(threading.Thread):
    """A signed-in portal user reading the inventory and licenses pages until told to stop."""

    PAGES = (
        ("/portal/inventory", "<h1>Product Instances</h1>"),
        ("/portal/licenses", "<h1>Licenses</h1>"),
        ("/portal/inventory?page=2", "<h1>Product Instances</h1>"),
    )

    def __init__(self, base: str, setup: Provisioned, stats: PortalReads, lock: threading.Lock):
        super().__init__(daemon=True)
        self.base, self.setup, self.stats, self.lock = base, setup, stats, lock
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base, timeout=60) as client:
                self._sign_in(client)
                i = 0
                while not self.stop.is_set():
                    page, heading = self.PAGES[i % len(self.PAGES)]
                    i += 1
                    started = time.perf_counter()
                    reply = client.get(page)
                    elapsed = time.perf_counter() - started
                    with self.lock:
                        if reply.status_code == 200 and heading in reply.text:
                            self.stats.pages += 1
                            self.stats.latencies.append(elapsed)
                        else:
                            self.stats.errors.append(f"GET {page}: HTTP {reply.status_code}")
                    self.stop.wait(0.05)
        except Exception as exc:  # reported with the figures, never lost in a thread
            with self.lock:
                self.stats.errors.append(f"portal reader: {type(exc).__name__}: {exc}")

    def _sign_in(self, client: httpx.Client) -> None:
        client.get("/portal/login").raise_for_status()
        reply = client.post(
            "/portal/login",
            data={
                "csrf": client.cookies["slp_login_csrf"],
                "account": self.setup.account,
                "username": self.setup.portal_user,
                "password": self.setup.portal_password,
            },
        )
        if reply.status_code != 303:
            raise RuntimeError(f"portal sign-in answered HTTP {reply.status_code}")


@contextlib.contextmanager
def portal_readers(base: str, setup: Provisioned, count: int) -> Iterator[PortalReads]:
    stats, lock = PortalReads(), threading.Lock()
    readers = [PortalReader(base, setup, stats, lock) for _ in range(count)]
    for reader in readers:
        reader.start()
    try:
        yield stats
    finally:
        for reader in readers:
            reader.stop.set()
        for reader in readers:
            reader.join(60)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value.replace("_", "")) if value.strip() else default


def env_ints(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = os.environ.get(name, "")
    if not value.strip():
        return default
    return tuple(int(v.replace("_", "")) for v in value.split(","))


def dump(figures: dict[str, Any]) -> str:
    return json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()})
