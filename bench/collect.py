"""One utility, N emulated product instances: push, pull and the files both ways.

- **push**: N instances each send one ``usage_report`` (``REPORTS`` builtin-signed reports,
  built and signed before the clock starts) to the utility's ``/cslu/v1/pi`` over real HTTP
  (uvicorn in a thread, ``CONCURRENCY`` requests in flight); the utility is disconnected, so each
  report is verified and stored (SQLite, WAL, ``synchronous=FULL``) and answered ``OK_POLL``.
- **pull**: N devices in the inventory (credentials encrypted), all served by one emulated device
  REST API (``close-reports``, ``all-reports``, ``import``) that tells the devices apart by the
  ``Host`` header (each device is ``127.x.y.z:port``); ``collect --all`` with the default
  parallelism (8).
- **files**: Download All For Cisco of the pulled reports (one tar.gz usage file), the authority's
  upload of it (in process, SQLite) into an ACK file, Upload From Cisco of that file, then the
  delivery of every ACK to its device by ``import``.

Figures: instances per second per phase, file sizes, the utility's database and WAL sizes, peak
RSS of this process (utility, device emulator and authority all run in it) and the load average.
``python bench/collect.py [--profile PHASE] [N ...]`` (default 1000 10000); each N is bounded by
``TIME_BUDGET`` seconds of measured work, beyond which larger N are skipped. ``--profile PHASE``
(``push``, ``pull``, ``download_all``, ``authority_upload``, ``upload_from``, ``deliver``) runs
that phase under pyinstrument and writes its text profile next to the figures
(``collect-PHASE-N.txt``). ``measure(n)`` is the entry point of ``bench/run_all.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import sys
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from smartlic.core.artifacts import Measurement, RumReport
from smartlic.core.catalog import default_catalog
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import OversizedError
from smartlic.core.keys import SigningKey
from smartlic.core.protocol import InstanceState, Kind
from smartlic.core.protocol import Request as PiRequest
from smartlic.core.udi import HaSet, Udi
from smartlic.utility.app import create_app
from smartlic.utility.service import Utility

REPORTS = 2
CONCURRENCY = 8
TIME_BUDGET = 240.0  # seconds of work for one N; a larger N is not tried after a slower one
PHASES = ("push", "pull", "download_all", "authority_upload", "upload_from", "deliver")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Phases:
    """Times each phase into the figures; the one named in ``profile`` runs under pyinstrument
    (only that one, so the others keep their unprofiled speed)."""

    def __init__(self, fig: dict[str, Any], profile: str | None, out: Path | None) -> None:
        self.fig = fig
        self.profile = profile
        self.out = out

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        profiler = None
        if name == self.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.005)
            profiler.start()
        start = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] N={self.fig['N']}: {name}", file=sys.stderr)
        try:
            yield
        finally:
            self.fig[f"{name}_s"] = time.perf_counter() - start
            if profiler is not None:
                profiler.stop()
                if self.out is not None:
                    self.out.write_text(profiler.output_text(unicode=True, show_all=False))


def make_instances(n: int, now: int) -> list[tuple[Udi, list[Envelope]]]:
    lic = default_catalog().get("dna-advantage")
    software_id = default_catalog().platform.software_id
    out = []
    key = SigningKey.generate()  # one key for all: signing cost is not what is measured
    for i in range(n):
        udi = Udi.parse(f"PID:C9300-24UX,SN:FCB{i:07d}{secrets.token_hex(2).upper()}")
        ha = HaSet.standalone(udi)
        envelopes = []
        for r in range(REPORTS):
            report = RumReport(
                report_id=now + r,
                asset_name=software_id,
                udi=udi,
                signing_type=SigningType.BUILTIN,
                public_key=key.public,
                entitlement_tag=lic.entitlement_tag,
                license_name=lic.name,
                software_version="17.09.02",
                hostname=f"sw{i}",
                ha=ha,
                utility_enabled=True,
                previous_report_id=0,
                measurements=(Measurement(now - 3600, now, now, 900, 4, 1 + r),),
            )
            envelopes.append(sign(ArtifactType.RUM, report.to_json(), key, SigningType.BUILTIN))
        out.append((udi, envelopes))
    return out


@contextlib.contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[int]:
    config = uvicorn.Config(app, host=host, port=0, log_level="error", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


def device_emulator(
    devices: dict[str, tuple[Udi, list[Envelope]]],
) -> tuple[FastAPI, dict[str, int]]:
    """One REST API for every emulated device, told apart by the Host header."""
    app = FastAPI()
    counts = {"imports": 0}

    def usage(request: Request) -> list[Any]:
        host = request.headers["host"].rsplit(":", 1)[0]
        return [json.loads(e.to_bytes()) for e in devices[host][1]]

    @app.post("/smartlic-service/close-reports")
    def close_reports() -> dict[str, Any]:
        return {"closed": 0}

    @app.get("/smartlic-service/all-reports")
    def all_reports(request: Request) -> JSONResponse:
        return JSONResponse({"usage": usage(request)})

    @app.post("/smartlic-service/import")
    async def import_(request: Request) -> dict[str, Any]:
        await request.body()
        counts["imports"] += 1
        return {"installed": 1}

    return app, counts


def _sizes(folder: Path) -> tuple[int, int]:
    """The SQLite database and its write-ahead log, apart: the WAL keeps its high-water size
    between checkpoints unless the store limits it."""
    db = folder / "utility.db"
    wal = folder / "utility.db-wal"
    return (db.stat().st_size if db.exists() else 0, wal.stat().st_size if wal.exists() else 0)


def run(
    n: int, root: Path, *, profile: str | None = None, profile_out: Path | None = None
) -> dict[str, Any]:
    from smartlic.authority.accounts.service import AccountService
    from smartlic.authority.context import Authority
    from smartlic.authority.db import make_engine, transaction
    from smartlic.authority.keystore import KeyStore
    from smartlic.authority.migrate import upgrade
    from smartlic.authority.usage.service import UsageService

    now = int(time.time())
    fig: dict[str, Any] = {"N": n, "reports_per_instance": REPORTS}
    phase = Phases(fig, profile, profile_out)
    pushed = make_instances(n, now)
    bodies = [
        PiRequest(
            kind=Kind.USAGE_REPORT,
            message_id=uuid.uuid4().hex,
            sent_at=now,
            udi=udi,
            ha=HaSet.standalone(udi),
            state=InstanceState(keyset_version=1),
            reports=tuple(envs),
        ).to_bytes()
        for udi, envs in pushed
    ]
    # --- push ------------------------------------------------------------------------------
    utility = Utility(root / "push")
    utility.configure(connected=False)
    with serve(create_app(utility)) as port, httpx.Client(timeout=60) as client:
        url = f"http://127.0.0.1:{port}/cslu/v1/pi"

        def post(body: bytes) -> None:
            answer = client.post(url, content=body)
            assert answer.status_code in (200, 202), answer.text
            assert answer.json()["status"] == "OK_POLL", answer.text

        with phase("push"), ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(post, bodies))
    assert utility.waiting() == n * REPORTS
    fig["push_instances_per_s"] = n / fig["push_s"]
    utility.close()
    del bodies, pushed
    # --- pull ------------------------------------------------------------------------------
    pulled = make_instances(n, now)
    hosts = {
        f"127.{1 + i // 65025}.{(i // 255) % 255}.{1 + i % 255}": d for i, d in enumerate(pulled)
    }
    app, counts = device_emulator(hosts)
    utility = Utility(root / "pull")
    utility.configure(connected=False)
    with serve(app, host="0.0.0.0") as port:  # noqa: S104 (loopback addresses only are used)
        csv = "".join(f"{h},{port},{d[0]},admin,secret\n" for h, d in hosts.items())
        with phase("inventory_import"):
            utility.import_csv(csv)
        with phase("pull"):
            results = utility.collect()
        bad = [r for r in results if r["status"] != "waiting for ACK file"]
        assert not bad, bad[:3]
        fig["pull_instances_per_s"] = n / fig["pull_s"]
        fig["open_files_after_pull"] = len(os.listdir("/proc/self/fd"))
        # --- files: Download All For Cisco -> authority -> Upload From Cisco ---------------
        usage_file = root / "usage.tar.gz"
        with phase("download_all"):
            down = utility.download_all(usage_file)
        fig["usage_file_bytes"] = down["bytes"]
        fig["usage_manifest_bytes"] = _manifest_bytes(usage_file)
        keys = KeyStore(root / "auth" / "keys")
        keys.init(now)
        engine = make_engine(f"sqlite:///{root / 'auth' / 'authority.db'}")
        upgrade(engine)
        authority = Authority(engine=engine, keys=keys)
        accounts = AccountService(authority)
        with transaction(authority.sessions) as s:
            account = accounts.create_account(s, "SA-Bench")
            va = accounts.create_va(s, account.id, "VA-Bench")
            account_id, va_id = account.id, va.id
        try:
            with phase("authority_upload"), transaction(authority.sessions) as s:
                ack_data, _ = UsageService(authority).upload(
                    s, account_id, va_id, usage_file.read_bytes(), actor="bench"
                )
        except OversizedError as exc:
            # The limit of this N: record what refused it, and the figures up to here.
            fig["authority_refused"] = exc.reason
            engine.dispose()
            utility.close()
            return _finish(fig, root)
        ack_file = root / "ack.tar.gz"
        ack_file.write_bytes(ack_data)
        fig["ack_file_bytes"] = len(ack_data)
        fig["ack_manifest_bytes"] = _manifest_bytes(ack_file)
        with phase("upload_from"):
            up = utility.upload_from(ack_file)
        assert up["reports_acked"] == n * REPORTS, up
        with phase("deliver"):
            delivered = utility.deliver_pending()
        assert sum(d.get("delivered", 0) for d in delivered) == n, delivered[:3]
        assert counts["imports"] == n
        fig["files_instances_per_s"] = n / (
            fig["download_all_s"] + fig["upload_from_s"] + fig["deliver_s"]
        )
        engine.dispose()
    utility.close()
    return _finish(fig, root)


def _finish(fig: dict[str, Any], root: Path) -> dict[str, Any]:
    fig["state_db_bytes"], fig["state_wal_bytes"] = _sizes(root / "pull")
    fig["peak_rss_mb"] = _rss_mb()
    fig["load_average"] = os.getloadavg()[0]
    return fig


def _manifest_bytes(path: Path) -> int:
    """The uncompressed size of a bundle's signed manifest (the part read as one document)."""
    with tarfile.open(path, "r:gz") as archive:
        return next(m.size for m in archive.getmembers() if m.name == "manifest.xml")


def measure(n: int = 1000) -> dict[str, float]:
    """One run at ``n`` in a throwaway folder; every figure as a float (``bench/run_all.py``)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-collect-{n}-") as tmp:
        start = time.perf_counter()
        fig = run(n, Path(tmp))
        fig["total_s"] = time.perf_counter() - start
    return {k: float(v) for k, v in fig.items() if isinstance(v, int | float)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("sizes", nargs="*", type=int, help="N (default: 1000 10000)")
    parser.add_argument("--profile", choices=PHASES, help="Profile this phase (pyinstrument).")
    args = parser.parse_args(argv)
    for n in args.sizes or [1000, 10000]:
        out = Path(f"collect-{args.profile}-{n}.txt") if args.profile else None
        with tempfile.TemporaryDirectory(prefix=f"bench-collect-{n}-") as tmp:
            start = time.perf_counter()
            fig = run(n, Path(tmp), profile=args.profile, profile_out=out)
            fig["total_s"] = time.perf_counter() - start
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in fig.items()}))
        sys.stdout.flush()
        if fig["total_s"] > TIME_BUDGET:
            print(f"# stopping: N={n} took {fig['total_s']:.0f}s, more than {TIME_BUDGET:.0f}s")
            break


if __name__ == "__main__":
    main(sys.argv[1:])
