"""Authority ingest over real HTTP: RUM reports per second verified, stored and ACKed.

The authority runs as ``smartlic authority serve --workers 2`` does (uvicorn, the
``app_from_env`` factory, 2 worker processes, loopback) over a fresh database — SQLite (a file in
a temporary data folder) and PostgreSQL (a throwaway schema at ``SMARTLIC_BENCH_PG_URL``, else
``SMARTLIC_TEST_PG_URL``, else 127.0.0.1:5432/test; skipped when unreachable). Clients send
batches, as utilities do: ``INSTANCES`` product instances, each one ``usage_report`` request of
``REPORTS`` builtin-signed reports to ``/cslu/v1/pi`` with a virtual account's API token,
``CONCURRENCY`` requests in flight. Requests are built and signed before the clock starts;
every answer must be ``200`` with one ACK listing all of its reports.

The figure to compare: reports/s ÷ (raw Ed25519 verify/s × cores) — the issue's target is ≥ 0.5,
"signature checking should be the only real cost".
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from smartlic.authority.accounts.service import AccountService
from smartlic.authority.context import Authority
from smartlic.authority.db import make_engine, transaction
from smartlic.authority.keystore import KeyStore
from smartlic.authority.migrate import upgrade
from smartlic.core.artifacts import Measurement, RumReport
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, SigningType, sign
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import InstanceState, Kind, Request, Response
from smartlic.core.udi import HaSet, Udi

INSTANCES = 100
REPORTS = 20
CONCURRENCY = 8
WORKERS = 2
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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
def serving(data: Path, url: str) -> Iterator[str]:
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
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_batches(base: str, token: str, bodies: list[bytes], reports: int) -> float:
    """Send every body, ``CONCURRENCY`` in flight; seconds taken. Checks every answer."""
    clients = [
        httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=120,
        )
        for _ in range(CONCURRENCY)
    ]

    def send(i: int) -> int:
        r = clients[i % CONCURRENCY].post("/cslu/v1/pi", content=bodies[i])
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.text[:300]}")
        response = Response.parse(r.content)
        (ack,) = [a for a in response.artifacts if a.type is ArtifactType.ACK]
        return ack.payload.count('"report_id"')

    try:
        # warm-up: one request per connection, not timed
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(send, range(CONCURRENCY)))
        started = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            acked = sum(pool.map(send, range(CONCURRENCY, len(bodies))))
        elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            client.close()
    expected = (len(bodies) - CONCURRENCY) * reports
    if acked != expected:
        raise RuntimeError(f"{acked} reports acknowledged, {expected} sent")
    return elapsed


def ingest_rate(url: str, instances: int = INSTANCES, reports: int = REPORTS) -> float:
    """Reports per second ingested and ACKed over HTTP on the database at ``url``."""
    with tempfile.TemporaryDirectory(prefix="smartlic-bench-") as tmp:
        data = Path(tmp)
        real_url = url.replace("{data}", str(data))
        token = prepare(data, real_url)
        bodies = build_requests(instances + CONCURRENCY, reports, int(time.time()))
        with serving(data, real_url) as base:
            elapsed = run_batches(base, token, bodies, reports)
    return instances * reports / elapsed


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


def measure() -> dict[str, float]:
    sqlite = "sqlite:///{data}/authority.db"
    out = {"ingest_sqlite_reports_per_s": ingest_rate(sqlite)}
    out["ingest_sqlite_batch100_reports_per_s"] = ingest_rate(sqlite, *BIG_BATCH)
    with pg_schema() as url:
        if url is not None:
            out["ingest_postgres_reports_per_s"] = ingest_rate(url)
    with pg_schema() as url:
        if url is not None:
            out["ingest_postgres_batch100_reports_per_s"] = ingest_rate(url, *BIG_BATCH)
    return out


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:32} {value:12,.0f}")
