"""A full reporting cycle at scale: N instances through a utility to the authority and back.

The connected topology of the reference (§3.1) with real processes: the authority (``smartlic
authority serve --workers 2``, SQLite) and a connected utility (``smartlic utility serve``).
Every emulated instance (own key, one signed report, built before the clock starts) pushes its
report to the utility, which verifies and stores it, forwards it, stores the authority's ACK and
relays it; the instance polls until it holds the ACK. The cycle is over when every instance holds
an ACK that verifies as an instance verifies it (authority signature under the anchor's key set,
its UDI, the digest of the report it sent), and the authority's database holds every report once.

The issue's size is 300,000 instances in under 10 minutes on 2 cores. A pilot of ``PILOT``
instances gives the rate; when the target would not fit in ``BUDGET`` seconds the largest N that
does is run instead, and the time for the target is extrapolated from its rate. The bottleneck is
named from the CPU seconds each process used, and both roles are profiled with pyinstrument
(``docs/profiles/cycle-*.txt``): the utility handling pushes while connected to the authority
process, and the authority handling the same requests in process.

    .venv/bin/python bench/cycle.py    # env: SMARTLIC_CYCLE_INSTANCES, SMARTLIC_CYCLE_BUDGET,
                                       #      SMARTLIC_CYCLE_CONCURRENCY, SMARTLIC_PROFILE=0
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Provisioned,
    authority_counts,
    authority_process,
    check_acks,
    dump,
    env_int,
    load_average,
    make_fleet,
    percentile,
    provision,
    push,
    say,
    utility_process,
)

TARGET = env_int("SMARTLIC_CYCLE_INSTANCES", 300_000)
BUDGET = env_int("SMARTLIC_CYCLE_BUDGET", 360)
CONCURRENCY = env_int("SMARTLIC_CYCLE_CONCURRENCY", 64)
TARGET_SECONDS = 600
PILOT = 500
PROFILED = 150
PROFILES = Path(__file__).resolve().parents[1] / "docs" / "profiles"


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(target: int = TARGET, budget: float = BUDGET) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="smartlic-cycle-") as tmp:
        root = Path(tmp)
        setup = provision(root)
        now = int(time.time())
        pilot_fleet = make_fleet(min(PILOT, target), 1, now, tag="CP")
        with (
            authority_process(setup) as authority,
            utility_process(setup, authority.base, root / "utility") as utility,
        ):
            say(f"cycle: pilot of {len(pilot_fleet):,} instances")
            cpu_pilot = (authority.cpu_seconds(), utility.cpu_seconds(), _self_cpu())
            pilot = push(utility.base, pilot_fleet, CONCURRENCY, timeout=budget)
            if pilot.errors:
                raise RuntimeError(f"pilot: {len(pilot.errors)} without ACK: {pilot.errors[:3]}")
            rate = len(pilot_fleet) / pilot.seconds
            n = min(target, max(len(pilot_fleet), int(rate * budget) // 1000 * 1000))
            if n < target:
                say(
                    f"cycle: {target:,} instances would take about {target / rate:.0f} s at "
                    f"{rate:.0f} instances/s; running the {n:,} that fit in {budget:.0f} s"
                )
            cpu0 = cpu_pilot
            run = pilot  # the pilot is the measure when nothing larger fits
            if n > len(pilot_fleet):
                fleet = make_fleet(n, 1, now, tag="CY")
                cpu0 = (authority.cpu_seconds(), utility.cpu_seconds(), _self_cpu())
                say(f"cycle: {n:,} instances, {CONCURRENCY} in flight")
                run = push(utility.base, fleet, CONCURRENCY, timeout=max(budget * 3, 600))
            n = len(run.outcomes)
            cpu1 = (authority.cpu_seconds(), utility.cpu_seconds(), _self_cpu())
            started = time.perf_counter()
            check = check_acks(run.outcomes, setup.anchor())
            verify_s = time.perf_counter() - started
            profiled = os.environ.get("SMARTLIC_PROFILE", "1") != "0"
            if profiled:
                profile(setup, authority.base, root)
        if run.errors:
            raise RuntimeError(f"cycle: {len(run.errors)} without ACK: {run.errors[:3]}")
        stored = authority_counts(setup)
        sent = len(pilot_fleet) + (n if run is not pilot else 0) + (2 * PROFILED * profiled)
        if check.problems or check.reports_acked != n or stored["reports"] != sent:
            raise RuntimeError(f"cycle lost or doubled reports: {check.problems[:5]} {stored}")
    seconds = run.seconds + verify_s
    used = [b - a for a, b in zip(cpu0, cpu1, strict=True)]
    fig: dict[str, Any] = {
        "instances": n,
        "target": target,
        "seconds": seconds,
        "instances_per_s": n / seconds,
        "extrapolated_target_s": target * seconds / n,
        "ack_p50_ms": percentile(run.latencies, 50) * 1000,
        "ack_p99_ms": percentile(run.latencies, 99) * 1000,
        "resends": run.resends,
        "authority_cpu_s": used[0],
        "utility_cpu_s": used[1],
        "load_generator_cpu_s": used[2],
        "cores_busy": sum(used) / run.seconds,
        "authority_cpu_ms_per_instance": used[0] / n * 1000,
        "utility_cpu_ms_per_instance": used[1] / n * 1000,
        "load_average": load_average(),
    }
    print(dump(fig), flush=True)
    return {
        "cycle_instances": float(n),
        "cycle_seconds": seconds,
        "cycle_instances_per_s": fig["instances_per_s"],
        "cycle_extrapolated_300k_s": fig["extrapolated_target_s"] * 300_000 / target,
        "cycle_authority_cpu_ms_per_instance": fig["authority_cpu_ms_per_instance"],
        "cycle_utility_cpu_ms_per_instance": fig["utility_cpu_ms_per_instance"],
        "cycle_cores_busy": fig["cores_busy"],
    }


def profile(setup: Provisioned, authority_url: str, root: Path) -> None:
    """pyinstrument profiles of both roles handling ``PROFILED`` first reports, one at a time:
    the utility in this process (connected to the authority process over HTTP, so the wait for
    the authority shows as one frame), then the authority's ``ProtocolService`` in this process
    on the same database (what its workers do per request, without uvicorn)."""
    from pyinstrument import Profiler

    from smartlic.authority.context import Authority
    from smartlic.authority.endpoint import ProtocolService
    from smartlic.authority.settings import Settings
    from smartlic.utility.service import Utility

    PROFILES.mkdir(parents=True, exist_ok=True)
    now = int(time.time())
    header = (
        f"# {PROFILED} first reports, one at a time; load average {load_average():.1f} "
        f"on {os.cpu_count()} cores; written by bench/cycle.py\n"
    )
    utility = Utility(root / "profiled-utility")
    utility.configure(
        connected=True,
        authority_url=authority_url,
        authority_token=setup.api_token,
        account=setup.account,
        va=setup.va,
        authority_keys=setup.anchor_file.read_bytes(),
    )
    bodies = [i.usage_request(now) for i in make_fleet(PROFILED, 1, now, tag="PU")]
    profiler = Profiler(interval=0.0005)
    with profiler:
        for body in bodies:
            if utility.handle(body).status.value != "OK":
                raise RuntimeError("the profiled utility got no ACK")
    utility.close()
    (PROFILES / "cycle-utility.txt").write_text(
        header + profiler.output_text(unicode=True, color=False)
    )
    settings = Settings(data=setup.authority_data)
    authority = Authority.open(settings.url, settings.keys)
    service = ProtocolService(authority)
    bodies = [i.usage_request(now) for i in make_fleet(PROFILED, 1, now, tag="PA")]
    profiler = Profiler(interval=0.0005)
    with profiler:
        for body in bodies:
            if service.handle(body, bearer=setup.api_token).status.value != "OK":
                raise RuntimeError("the profiled authority sent no ACK")
    authority.engine.dispose()
    (PROFILES / "cycle-authority.txt").write_text(
        header + profiler.output_text(unicode=True, color=False)
    )
    say(f"cycle: profiles written to {PROFILES}")


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:38} {value:12,.1f}")
