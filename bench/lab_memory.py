"""Memory per lab instance: RSS growth / N for fleets of N product instances in one process.

    .venv/bin/python bench/lab_memory.py [N ...]      # default: 100 1000 3000

Each N runs in a fresh process: the authority is set up once (template), then the lab starts
N instances (air-gapped topology: no utility; each instance has its own state folder, SQLite
store, ManualClock, shell Device, and a device REST app mounted on the lab's shared server).
Prints one line per N: instances, seconds to start, RSS before and after, MiB per instance,
open file descriptors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def one(n: int, template: Path, folder: Path) -> dict[str, float]:
    from smartlic.lab.fleet import Lab

    before = rss_kib()
    started = time.monotonic()
    lab = Lab.create(folder, instances=n, topology="air-gapped", template=template)
    seconds = time.monotonic() - started
    after = rss_kib()
    fds = len(os.listdir("/proc/self/fd"))
    lab.close()
    return {
        "instances": n,
        "start_seconds": round(seconds, 1),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "mib_per_instance": round((after - before) / 1024 / n, 3),
        "open_fds": fds,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        n, template, folder = int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
        # Warm up imports and the authority app so they are not counted per instance.
        from smartlic.lab.fleet import Lab

        warm = Lab.create(folder / "warm", instances=1, topology="air-gapped", template=template)
        warm.close()
        print(json.dumps(one(n, template, folder / "lab")))
        return
    counts = [int(a) for a in sys.argv[1:]] or [100, 1000, 3000]
    from smartlic.lab.fleet import setup_authority

    base = Path(tempfile.mkdtemp(prefix="lab-memory-"))
    template = base / "template"
    template.mkdir()
    (template / "tokens.json").write_text(json.dumps(setup_authority(template)))
    for n in counts:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n), str(template), str(base / f"n{n}")],
            capture_output=True,
            text=True,
            check=False,
        )
        print(proc.stdout.strip() or proc.stderr.strip()[-2000:], flush=True)


if __name__ == "__main__":
    main()
