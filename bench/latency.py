"""ACK latency at 1, 100 and 1,000 concurrent product instances.

One authority (``smartlic authority serve --workers 2``, SQLite) and one connected utility
(``smartlic utility serve``) run as real processes. At each level ``C``, fresh emulated instances
(own keys, one signed report each, built before the clock starts) push to the utility's
``/cslu/v1/pi`` with ``C`` of them in flight at any time (closed loop: one finishes, the next
starts), and poll until their ACK arrives. An instance's latency runs from sending its report to
holding the ACK; the utility has forwarded the report, the authority verified, stored and signed
the ACK, and the utility stored it on the way back. Every ACK is then verified as an instance
verifies it. Figures: p50 and p99 per level, and the throughput reached.

    .venv/bin/python bench/latency.py       # env: SMARTLIC_LATENCY_LEVELS=1,100,1000
                                            #      SMARTLIC_LATENCY_INSTANCES=100,1000,2000
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    authority_process,
    check_acks,
    dump,
    env_ints,
    make_fleet,
    percentile,
    provision,
    push,
    say,
    utility_process,
)

LEVELS = env_ints("SMARTLIC_LATENCY_LEVELS", (1, 100, 1000))
INSTANCES = env_ints("SMARTLIC_LATENCY_INSTANCES", (100, 1000, 2000))
WARMUP = 20
TIMEOUT = 600


def measure(
    levels: tuple[int, ...] = LEVELS, instances: tuple[int, ...] = INSTANCES
) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="smartlic-latency-") as tmp:
        root = Path(tmp)
        setup = provision(root)
        now = int(time.time())
        fleets = [make_fleet(n, 1, now, tag=f"L{i}") for i, n in enumerate(instances)]
        warm = make_fleet(WARMUP, 1, now, tag="LW")
        with (
            authority_process(setup) as authority,
            utility_process(setup, authority.base, root / "utility") as utility,
        ):
            push(utility.base, warm, 4)
            for level, fleet in zip(levels, fleets, strict=True):
                say(f"latency: {len(fleet):,} instances, {level} concurrent")
                run = push(utility.base, fleet, level, timeout=TIMEOUT)
                if run.errors:
                    raise RuntimeError(f"{len(run.errors)} without ACK: {run.errors[:3]}")
                check = check_acks(run.outcomes, setup.anchor())
                if check.problems or check.reports_acked != len(fleet):
                    raise RuntimeError(f"ACK check failed: {check.problems[:5]}")
                lat = run.latencies
                out[f"ack_c{level}_p50_ms"] = percentile(lat, 50) * 1000
                out[f"ack_c{level}_p99_ms"] = percentile(lat, 99) * 1000
                out[f"ack_c{level}_instances_per_s"] = len(fleet) / run.seconds
                out[f"ack_c{level}_resends"] = float(run.resends)
                print(dump({"concurrent": level, "instances": len(fleet), **{
                    k: v for k, v in out.items() if k.startswith(f"ack_c{level}_")
                }}), flush=True)  # fmt: skip
    return out


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:32} {value:12,.1f}")
