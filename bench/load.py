"""Load test on loopback: a utility and an authority under sustained push, with portal readers.

The authority (``smartlic authority serve --workers 2``, SQLite) and a connected utility
(``smartlic utility serve``) run as real processes. ``INSTANCES`` emulated product instances
(own keys, ``REPORTS`` signed reports each, built before the clock starts) push to the utility's
``/cslu/v1/pi``, ``CONCURRENCY`` at a time, polling until their ACK arrives, while ``READERS``
signed-in portal users read the inventory and licenses pages. It stops by itself: every instance
done, or ``TIMEOUT`` seconds.

Then it proves nothing was lost or counted twice: every request answered without error, every
ACK verified as an instance verifies it, every report acknowledged exactly once, every portal page
served, and the authority's and the utility's stored counts equal to what was sent. Latencies
(ACK p50/p99 per instance, portal page p50/p99) are recorded, never asserted.

    .venv/bin/python bench/load.py            # full size (env: SMARTLIC_LOAD_INSTANCES, ...)

``tests/stress/test_load.py`` runs a small bounded version in ``make test``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    authority_counts,
    authority_process,
    check_acks,
    dump,
    env_int,
    load_average,
    make_fleet,
    percentile,
    portal_readers,
    provision,
    push,
    say,
    utility_counts,
    utility_process,
)

INSTANCES = env_int("SMARTLIC_LOAD_INSTANCES", 5000)
REPORTS = env_int("SMARTLIC_LOAD_REPORTS", 2)
CONCURRENCY = env_int("SMARTLIC_LOAD_CONCURRENCY", 200)
READERS = env_int("SMARTLIC_LOAD_READERS", 2)
TIMEOUT = env_int("SMARTLIC_LOAD_TIMEOUT", 900)


@dataclass
class LoadResult:
    figures: dict[str, Any]
    problems: list[str]
    """Every error, loss or double count found; empty when the run is sound."""


def run(
    instances: int = INSTANCES,
    reports: int = REPORTS,
    concurrency: int = CONCURRENCY,
    readers: int = READERS,
    timeout: float = TIMEOUT,
    *,
    root: Path | None = None,
) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="smartlic-load-") as tmp:
        return _run(Path(root or tmp), instances, reports, concurrency, readers, timeout)


def _run(
    root: Path, instances: int, reports: int, concurrency: int, readers: int, timeout: float
) -> LoadResult:
    say(f"load: provisioning an authority in {root}")
    setup = provision(root)
    say(f"load: signing {instances:,} instances x {reports} reports")
    fleet = make_fleet(instances, reports, int(time.time()))
    utility_data = root / "utility"
    problems: list[str] = []
    with (
        authority_process(setup) as authority,
        utility_process(setup, authority.base, utility_data) as utility,
    ):
        say(f"load: pushing, {concurrency} in flight, {readers} portal reader(s)")
        with portal_readers(authority.base, setup, readers) as portal:
            run_ = push(utility.base, fleet, concurrency, timeout=timeout)
        cpu = {"authority_cpu_s": authority.cpu_seconds(), "utility_cpu_s": utility.cpu_seconds()}
        if run_.errors:
            problems += [f"push: {e}" for e in run_.errors[:20]]
            problems.append(f"{len(run_.errors)} instance(s) got no ACK")
            problems.append("utility log:\n" + utility.tail())
    problems += portal.errors[:20]
    if readers and not portal.pages:
        problems.append("no portal page was read during the push")
    check = check_acks(run_.outcomes, setup.anchor())
    problems += check.problems[:20]
    sent = sum(len(i.digests) for i in fleet)
    counted = sum(i.counted for i in fleet)
    stored = authority_counts(setup)
    held = utility_counts(utility_data)
    expected = {"reports": sent, "udis": instances, "counted": counted, "instances": instances}
    if stored != expected:
        problems.append(f"authority stored {stored}, sent {expected}")
    if check.reports_acked != sent:
        problems.append(f"{check.reports_acked} reports acknowledged once, {sent} sent")
    if held["reports"] != sent or held["reports_waiting"] or held["instances"] != instances:
        problems.append(f"utility holds {held}, sent {sent} reports of {instances} instances")
    lat = run_.latencies
    figures: dict[str, Any] = {
        "instances": instances,
        "reports_sent": sent,
        "concurrency": concurrency,
        "portal_readers": readers,
        "seconds": run_.seconds,
        "instances_per_s": instances / run_.seconds,
        "reports_per_s": sent / run_.seconds,
        "ack_p50_ms": percentile(lat, 50) * 1000,
        "ack_p99_ms": percentile(lat, 99) * 1000,
        "ack_max_ms": max(lat, default=float("nan")) * 1000,
        "polls": sum(o.polls for o in run_.outcomes),
        "resends": run_.resends,
        "acks_verified": check.acks,
        "reports_acked_once": check.reports_acked,
        "authority_reports": stored["reports"],
        "authority_instances": stored["instances"],
        "utility_reports": held["reports"],
        "portal_pages": portal.pages,
        "portal_p50_ms": percentile(portal.latencies, 50) * 1000,
        "portal_p99_ms": percentile(portal.latencies, 99) * 1000,
        "errors": len(run_.errors) + len(portal.errors),
        "load_average": load_average(),
        **cpu,
    }
    return LoadResult(figures, problems)


def measure() -> dict[str, float]:
    """The load test at full size, for ``run_all``: raises when it is not sound."""
    result = run()
    print(dump(result.figures), flush=True)
    if result.problems:
        raise RuntimeError("load test failed:\n" + "\n".join(result.problems))
    f = result.figures
    return {
        "load_instances": f["instances"],
        "load_reports_per_s": f["reports_per_s"],
        "load_ack_p50_ms": f["ack_p50_ms"],
        "load_ack_p99_ms": f["ack_p99_ms"],
        "load_portal_pages": f["portal_pages"],
        "load_portal_p99_ms": f["portal_p99_ms"],
    }


def main() -> None:
    result = run()
    print(dump(result.figures))
    if result.problems:
        print("\n".join(result.problems), file=sys.stderr)
        raise SystemExit(1)
    say("load: sound — no error, no loss, every report acknowledged exactly once")


if __name__ == "__main__":
    main()
