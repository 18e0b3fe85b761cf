"""Run every benchmark in one process and rewrite the figures table of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crypto
import ingest

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def main() -> None:
    figures = crypto.measure()
    figures.update(ingest.measure())
    floor = figures["ed25519_verify_per_s"]
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [
        "| figure | value | ratio to raw verify | ratio to raw verify × cores |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {value:,.0f} | {value / floor:.2f} | {value / (floor * cores):.3f} |"
            for name, value in figures.items()
        ),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()}; load average {load:.1f} at the end of the run. "
        f"Ingest: {ingest.INSTANCES} instances x {ingest.REPORTS} reports (`batch100`: "
        f"{ingest.BIG_BATCH[0]} x {ingest.BIG_BATCH[1]}), {ingest.CONCURRENCY} requests in "
        f"flight, {ingest.WORKERS} server workers.",
    ]
    text = DOC.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(before + START + "\n" + "\n".join(rows) + "\n" + END + after)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
