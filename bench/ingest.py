"""Authority ingest over real HTTP: RUM reports per second verified, stored and ACKed.

The authority runs as ``smartlic authority serve --workers 2`` does (uvicorn, the
``app_from_env`` factory, 2 worker processes, loopback) over a fresh database — SQLite (a file in
a temporary data folder) and PostgreSQL (a throwaway schema at ``SMARTLIC_BENCH_PG_URL``, else
``SMARTLIC_TEST_PG_URL``, else 127.0.0.1:5432/test; skipped when unreachable). Clients send
batches, as utilities do: ``INSTANCES`` product instances, each one ``usage_report`` request of
``REPORTS`` builtin-signed reports to ``/cslu/v1/pi`` with a virtual account's API token,
``CONCURRENCY`` requests in flight. Requests are built and signed before the clock starts;
every answer must be ``200`` with one ACK listing all of its reports.

Also measured: the same 2,000 reports as 20 requests of 100 (``BIG_BATCH``) and 16,000 as 8
requests of 2,000 (``FULL_BATCH``), and for each shape the CPU efficiency (raw verify CPU time of
its reports ÷ CPU time of client, workers and PostgreSQL backends), which a shared machine does not
distort. ``python bench/ingest.py [sqlite] [postgres]`` runs a subset.

The figure to compare (``*_ratio``): reports/s ÷ (raw Ed25519 verify/s × cores) — the issue's
target is ≥ 0.5, "signature checking should be the only real cost". Each shape runs ``ROUNDS``
rounds on one server; the raw verify rate (one core, the library the authority verifies with)
is measured just before and after each round and the round is compared with their mean, so a
shared machine whose speed drifts over minutes compares like with like; figures are medians.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

import crypto  # bench/crypto.py: this folder is on the path, as a script or from run_all
from smartlic.authority.accounts.service import AccountService
from smartlic.authority.context import Authority
from smartlic.authority.db import make_engine, transaction
from smartlic.authority.keystore import KeyStore
from smartlic.authority.migrate import upgrade
from smartlic.core.artifacts import Measurement, RumReport
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, SigningType, pae, sign
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import InstanceState, Kind, Request, Response
from smartlic.core.udi import HaSet, Udi

INSTANCES = 100
REPORTS = 20
CONCURRENCY = 8
WORKERS = 2
ROUNDS = 3
"""Rounds per shape, each with its own reference; the figures are their medians."""
VERIFY_SECONDS = 0.5
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APP_NAME = "smartlic-bench-ingest"


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux ``/proc``); 0 for those already gone."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _descendants(root: int) -> list[int]:
    """Every process below ``root``: uvicorn's workers and the helper processes that check
    signatures for them."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent_of[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parent_of.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_requests(instances: int, reports: int, now: int) -> list[bytes]:
    """One usage_report request per instance, ``reports`` builtin-signed RUM reports each."""
    lic = default_catalog().get("dna-advantage")
    software_id = default_catalog().platform.software_id
    out = []
    for _ in range(instances):
        key = SigningKey.generate()
        udi = Udi.parse(f"PID:C9300-24UX,SN:FCW{secrets.token_hex(4).upper()}")
        ha = HaSet.standalone(udi)
        envelopes = []
        for n in range(reports):
            report = RumReport(
                report_id=now + n,
                asset_name=software_id,
                udi=udi,
                signing_type=SigningType.BUILTIN,
                public_key=key.public,
                entitlement_tag=lic.entitlement_tag,
                license_name=lic.name,
                software_version="17.09.02",
                hostname="switch",
                ha=ha,
                utility_enabled=True,
                previous_report_id=0,
                measurements=(Measurement(now - 3600, now, now, 900, 4, 1 + n % 3),),
            )
            envelopes.append(
                sign(ArtifactType.RUM, report.to_json(), key, SigningType.BUILTIN, sudi=udi)
            )
        request = Request(
            kind=Kind.USAGE_REPORT,
            message_id=uuid.uuid4().hex,
            sent_at=now,
            udi=udi,
            ha=ha,
            state=InstanceState(keyset_version=1),
            reports=tuple(envelopes),
        )
        out.append(request.to_bytes())
    return out


def prepare(data: Path, url: str) -> str:
    """Keys, schema, one smart account and virtual account; a utility API token for it."""
    keys = KeyStore(data / "keys")
    keys.init(int(time.time()))
    engine = make_engine(url)
    upgrade(engine)
    authority = Authority(engine=engine, keys=keys)
    svc = AccountService(authority)
    with transaction(authority.sessions) as s:
        account = svc.create_account(s, "SA-Bench")
        va = svc.create_va(s, account.id, "VA-Bench")
        token = svc.create_api_token(s, account.id, va_id=va.id, role="admin").token
    engine.dispose()
    return token


@contextlib.contextmanager
def serving(data: Path, url: str) -> Iterator[tuple[str, int]]:
    """``serve --workers 2``: uvicorn with the app factory, as the command runs it."""
    port = _free_port()
    env = dict(os.environ, SMARTLIC_AUTHORITY_DATA=str(data), SMARTLIC_AUTHORITY_DB=url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "smartlic.authority.app:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the authority did not start")
            time.sleep(0.1)
        # every worker answers (each opens its engine on first use)
        for _ in range(WORKERS * 4):
            httpx.get(f"{base}/healthz", timeout=5)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_batches(
    base: str,
    token: str,
    warm_up: list[bytes],
    bodies: list[bytes],
    reports: int,
    pids: Callable[[], list[int]],
) -> tuple[float, float]:
    """Send every body, ``CONCURRENCY`` in flight: (seconds taken, CPU seconds spent by this
    process and the processes ``pids`` names). Checks every answer.

    Each request opens its own connection, as utilities behind a load balancer do: kept-alive
    connections stay with the worker process that accepted them, and eight of them rarely split
    evenly over two workers, which would measure the split rather than the authority.
    """
    client = httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=300,
        limits=httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=0),
    )

    def send(body: bytes) -> int:
        r = client.post("/cslu/v1/pi", content=body)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
        response = Response.parse(r.content)
        (ack,) = [a for a in response.artifacts if a.type is ArtifactType.ACK]
        return ack.payload.count('"report_id"')

    with client, ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(send, warm_up))  # every worker has its engine and caches; not timed
        watched = pids()
        cpu = time.process_time() + _cpu_seconds(watched)
        started = time.perf_counter()
        acked = sum(pool.map(send, bodies))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() + _cpu_seconds(watched) - cpu
    expected = len(bodies) * reports
    if acked != expected:
        raise RuntimeError(f"{acked} reports acknowledged, {expected} sent")
    return elapsed, cpu


def _backends(url: str) -> list[int]:
    """PostgreSQL server processes serving the authority (its connections carry APP_NAME)."""
    if not url.startswith("postgresql"):
        return []
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
            )
            return [int(pid) for (pid,) in rows]
    finally:
        engine.dispose()


def _reference() -> tuple[float, float]:
    """The raw verify rate (wall clock, one core) and the CPU seconds of one verification, now."""
    return crypto.measure(VERIFY_SECONDS)["ed25519_verify_per_s"], _verify_cpu_seconds(1000)


def ingest_rates(
    url: str, instances: int = INSTANCES, reports: int = REPORTS, rounds: int = ROUNDS
) -> list[tuple[float, float, float]]:
    """For each of ``rounds`` rounds on one server over the database at ``url``: reports per
    second ingested and ACKed over HTTP; the CPU efficiency (raw verify CPU time of the reports
    ÷ CPU time of everything involved: client, server workers and their helpers, PostgreSQL
    backends); and the raw Ed25519 verify rate (one core). Both references are measured just
    before and just after the round and averaged, so a machine whose speed drifts during the
    run (a shared virtual machine) compares like with like."""
    with tempfile.TemporaryDirectory(prefix="smartlic-bench-") as tmp:
        data = Path(tmp)
        real_url = url.replace("{data}", str(data))
        token = prepare(data, real_url)
        now = int(time.time())
        warm_up = build_requests(CONCURRENCY * 2, 1, now)
        batches = [build_requests(instances, reports, now) for _ in range(rounds)]
        served = _with_app_name(real_url)
        out = []
        with serving(data, served) as (base, pid):
            before = _reference()
            for bodies in batches:
                elapsed, cpu = run_batches(
                    base,
                    token,
                    warm_up,
                    bodies,
                    reports,
                    lambda: [*_descendants(pid), *_backends(served)],
                )
                after = _reference()
                count = instances * reports
                verify_rate = (before[0] + after[0]) / 2
                verify_cpu = (before[1] + after[1]) / 2
                out.append((count / elapsed, count * verify_cpu / cpu, verify_rate))
                before = after
    return out


def _with_app_name(url: str) -> str:
    if not url.startswith("postgresql"):
        return url
    return f"{url}{'&' if '?' in url else '?'}application_name={APP_NAME}"


@contextlib.contextmanager
def pg_schema() -> Iterator[str | None]:
    """A throwaway schema on the PostgreSQL server, or None when there is none."""
    admin_url = os.environ.get("SMARTLIC_BENCH_PG_URL") or os.environ.get(
        "SMARTLIC_TEST_PG_URL", PG_DEFAULT
    )
    try:
        admin = make_engine(admin_url)
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:  # no server: the SQLite figure still stands
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipping", file=sys.stderr)
        yield None
        return
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


BIG_BATCH = (20, 100)
"""Also measured: the same 2,000 reports as 20 requests of 100, to show the per-request cost."""
FULL_BATCH = (8, 2000)
"""And 16,000 reports as 8 requests of 2,000: a utility forwarding what it collected while
disconnected (it may send up to 5,000 a request), where the per-request cost has vanished."""

SHAPES = {
    "": (INSTANCES, REPORTS),
    f"_batch{BIG_BATCH[1]}": BIG_BATCH,
    f"_batch{FULL_BATCH[1]}": FULL_BATCH,
}


def _verify_cpu_seconds(count: int = 3000) -> float:
    """CPU seconds of one raw Ed25519 verification (CPU, not wall: the machine may be shared)."""
    key = SigningKey.generate()
    message = pae("rum", b"x" * 1500)
    signature = key.sign(message)
    started = time.process_time()
    for _ in range(count):
        key.public.verify(signature, message)
    return (time.process_time() - started) / count


def measure(databases: tuple[str, ...] = ("sqlite", "postgres")) -> dict[str, float]:
    """Figure name → value, for each database and request shape, the median of ``ROUNDS``
    rounds: reports per second (``*_reports_per_s``); the issue's ratio (``*_ratio``): that
    rate ÷ (the raw verify rate measured around the same round × cores); and the CPU efficiency
    (``*_cpu_efficiency``): the raw verify time of the reports ÷ the CPU time everything spent
    on them, the ratio an idle machine whose cores all ingest would reach, and a figure that a
    machine shared with other work leaves intact."""
    cores = os.cpu_count() or 1
    out: dict[str, float] = {}
    for database in databases:
        for suffix, shape in SHAPES.items():
            name = f"ingest_{database}{suffix}"
            if database == "sqlite":
                rounds = ingest_rates("sqlite:///{data}/authority.db", *shape)
            else:
                with pg_schema() as url:
                    if url is None:
                        break
                    rounds = ingest_rates(url, *shape)
            out[f"{name}_reports_per_s"] = statistics.median(r[0] for r in rounds)
            out[f"{name}_ratio"] = statistics.median(r[0] / (r[2] * cores) for r in rounds)
            out[f"{name}_cpu_efficiency"] = statistics.median(r[1] for r in rounds)
    return out


if __name__ == "__main__":
    chosen = tuple(sys.argv[1:]) or ("sqlite", "postgres")
    for name, value in measure(chosen).items():
        print(f"{name:42} {f'{value:10,.0f}' if name.endswith('_s') else f'{value:10.3f}'}")
    print(f"load average {os.getloadavg()[0]:.1f}")
