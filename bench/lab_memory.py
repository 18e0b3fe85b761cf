"""Memory and open files per lab instance, and the largest fleet this machine holds.

    .venv/bin/python bench/lab_memory.py [N ...]        # default: 1000 10000
    .venv/bin/python bench/lab_memory.py --largest [--from N] [--budget SECONDS]
                                                         # 10000, 20000, 40000, ... until it stops

Each N runs in a fresh process: the authority is set up once (template), a one-instance lab warms
up imports and apps, then a lab of N instances starts in the mixed topology (as ``smartlic lab
up`` does: two utilities, a port per instance the utility pulls from, every agent in the fleet
store). Prints one JSON line per N: seconds to start, RSS before and after, MiB per instance,
open file descriptors, and the descriptors and MiB per instance ratios.

``--largest`` doubles N from 10,000 while the previous run predicts the next one fits: in memory
(with a quarter of the available memory kept free), in open files (the soft limit), and in time
(``--budget`` seconds, default 600, per run, extrapolated linearly). The largest N that started
is the figure ``docs/benchmarks.md`` records.

``measure(instances)`` is what ``bench/run_all.py`` calls: one run, figures as floats.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_INSTANCES = 5000
"""``measure()``'s default: well under a minute to start on a quiet 2-core machine."""


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one(n: int, template: Path, folder: Path) -> dict[str, float]:
    from smartlic.lab.fleet import Lab

    fds_before = len(os.listdir("/proc/self/fd"))
    before = rss_kib()
    started = time.monotonic()
    lab = Lab.create(folder, instances=n, topology="mixed", template=template)
    seconds = time.monotonic() - started
    after = rss_kib()
    fds = len(os.listdir("/proc/self/fd"))
    lab.close()
    return {
        "instances": n,
        "start_seconds": round(seconds, 1),
        "start_ms_per_instance": round(seconds * 1000 / n, 2),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "mib_per_instance": round((after - before) / 1024 / n, 3),
        "open_fds": fds,
        "fds_per_instance": round((fds - fds_before) / n, 3),
    }


def _template() -> Path:
    from smartlic.lab.fleet import setup_authority

    base = Path(tempfile.mkdtemp(prefix="lab-memory-"))
    template = base / "template"
    template.mkdir()
    (template / "tokens.json").write_text(json.dumps(setup_authority(template)))
    return base


def _run(n: int, base: Path, timeout: float | None = None) -> dict[str, float] | str:
    """One fleet in a fresh process: its figures, or why it failed."""
    command = [
        sys.executable,
        __file__,
        "--one",
        str(n),
        str(base / "template"),
        str(base / f"n{n}"),
    ]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"over {timeout:.0f} s"
    if proc.returncode != 0:
        return proc.stderr.strip()[-600:] or f"exit {proc.returncode}"
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def measure(instances: int = DEFAULT_INSTANCES) -> dict[str, float]:
    """One lab of ``instances`` (mixed topology): memory, descriptors and start time per
    instance, as ``bench/run_all.py`` wants them."""
    result = _run(instances, _template())
    if isinstance(result, str):
        raise RuntimeError(f"a lab of {instances} instances did not start: {result}")
    return {
        "lab_instances": float(instances),
        "lab_mib_per_instance": result["mib_per_instance"],
        "lab_fds_per_instance": result["fds_per_instance"],
        "lab_start_ms_per_instance": result["start_ms_per_instance"],
    }


def largest(budget: float, start: int = 10_000) -> None:
    """Double N while the last run predicts the next fits in memory, descriptors and time."""
    base = _template()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    n, best = start, 0
    while True:
        result = _run(n, base, timeout=budget * 1.5)
        print(json.dumps({"instances": n, "result": result}), flush=True)
        if isinstance(result, str):
            break
        best = n
        nxt = n * 2
        mib = nxt * result["mib_per_instance"] + result["rss_before_mib"]
        fds = nxt * result["fds_per_instance"] + 100
        seconds = nxt * result["start_ms_per_instance"] / 1000
        reasons = []
        if mib > available_mib() * 0.75:
            reasons.append(f"{mib:,.0f} MiB > 3/4 of {available_mib():,.0f} MiB available")
        if fds > soft:
            reasons.append(f"{fds:,.0f} descriptors > limit {soft}")
        if seconds > budget:
            reasons.append(f"{seconds:,.0f} s to start > budget {budget:.0f} s")
        if reasons:
            print(json.dumps({"stop_before": nxt, "because": reasons}), flush=True)
            break
        n = nxt
    load = os.getloadavg()[0]
    print(json.dumps({"largest_instances": best, "load_average": round(load, 1)}), flush=True)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--one"]:
        n, template, folder = int(args[1]), Path(args[2]), Path(args[3])
        from smartlic.lab.fleet import Lab

        # Warm up imports and the apps so they are not counted per instance.
        warm = Lab.create(folder / "warm", instances=5, topology="mixed", template=template)
        warm.close()
        print(json.dumps(one(n, template, folder / "lab")))
        return
    if args[:1] == ["--largest"]:
        budget = float(args[args.index("--budget") + 1]) if "--budget" in args else 600.0
        start = int(args[args.index("--from") + 1]) if "--from" in args else 10_000
        largest(budget, start)
        return
    base = _template()
    for n in [int(a) for a in args] or [1000, 10_000]:
        result = _run(n, base)
        print(json.dumps(result if isinstance(result, dict) else {"instances": n, "error": result}))
    print(json.dumps({"load_average": round(os.getloadavg()[0], 1)}))


if __name__ == "__main__":
    main()
