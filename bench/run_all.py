"""``make bench``: every benchmark in one run on this machine, then the figures table of
docs/benchmarks.md rewritten (between the ``figures`` markers) with what was measured.

Figures come from one run so they compare with each other: rates are also given as ratios to the
raw Ed25519 verify rate of the same run times the cores (the physical floor), and the issue's
two targets are checked at the end. The whole run stops by itself in about 20 minutes: the
sizes that would not fit (100,000 instances of usage files, 300,000 instances of a full cycle)
are measured at the largest size that fits their time budget, and the table says so. A
benchmark that fails is reported in the table and the run exits non-zero; the others still run.

Sizes and budgets (environment): SMARTLIC_LATENCY_LEVELS / _INSTANCES, SMARTLIC_COLLECT_N,
SMARTLIC_FILES_INSTANCES / _BUDGET, SMARTLIC_LAB_N, SMARTLIC_CYCLE_INSTANCES / _BUDGET /
_CONCURRENCY; SMARTLIC_BENCH_ONLY=crypto,latency,... runs a subset (the table then holds only
those figures); SMARTLIC_BENCH_DOC writes another copy of the document instead.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crypto
import cycle
import files
import ingest
import latency
from _common import env_int, load_average, say

DOC = Path(
    os.environ.get("SMARTLIC_BENCH_DOC")
    or Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
)
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
INGEST_TARGET = 0.5
CYCLE_TARGET = (300_000, 600.0)


def collect_figures() -> dict[str, float]:
    """Utility push and pull cycle times (``bench/collect.py``) at ``SMARTLIC_COLLECT_N``."""
    import collect

    n = env_int("SMARTLIC_COLLECT_N", 1000)
    fig = collect.measure(n)
    out = {"collect_instances": float(n)}
    for key in ("push_s", "push_instances_per_s", "pull_s", "pull_instances_per_s"):
        if key in fig:
            out[f"collect_{key}"] = float(fig[key])
    return out


def lab_memory_figures() -> dict[str, float]:
    """Lab memory per instance (``bench/lab_memory.py``) for a fleet of ``SMARTLIC_LAB_N``."""
    import lab_memory

    return dict(lab_memory.measure(env_int("SMARTLIC_LAB_N", 1000)))


BENCHMARKS: list[tuple[str, Callable[[], dict[str, float]]]] = [
    ("crypto", crypto.measure),
    ("ingest", ingest.measure),
    ("latency", latency.measure),
    ("collect", collect_figures),
    ("files", files.measure),
    ("lab_memory", lab_memory_figures),
    ("cycle", cycle.measure),
]


def _value(name: str, value: float) -> str:
    if name.endswith(("_mb", "_mib_per_instance", "_busy")) or abs(value) < 10:
        return f"{value:,.2f}"
    if abs(value) < 100:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def table(figures: dict[str, float], failed: dict[str, str], started: float, load0: float) -> str:
    floor = figures.get("ed25519_verify_per_s")
    cores = os.cpu_count() or 1
    rows = [
        "| figure | value | ratio to raw verify | ratio to raw verify × cores |",
        "|---|---:|---:|---:|",
    ]
    for name, value in figures.items():
        if floor and name.endswith("_per_s") and not name.startswith("ack_"):
            ratios = f"{value / floor:.2f} | {value / (floor * cores):.3f}"
        else:
            ratios = "— | —"
        rows.append(f"| {name} | {_value(name, value)} | {ratios} |")
    rows += ["", *targets(figures, floor, cores)]
    for name, reason in failed.items():
        rows.append(f"- **{name} failed**: {reason}")
    minutes = (time.perf_counter() - started) / 60
    rows += [
        "",
        f"Machine: {platform.processor() or platform.machine()}, {cores} cores, Python "
        f"{platform.python_version()}; load average {load0:.1f} at the start and "
        f"{load_average():.1f} at the end of the run; {minutes:.0f} minutes in all "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). How each figure is "
        "measured (sizes, concurrency, workers): the benchmark's section above.",
    ]
    return "\n".join(rows)


def targets(figures: dict[str, float], floor: float | None, cores: int) -> list[str]:
    """The issue's two targets, met or missed and by how much."""
    out = []
    # Each ingest shape carries its own ratio, to the verify rate measured around its rounds.
    ratios = {k: v for k, v in figures.items() if k.startswith("ingest_") and k.endswith("_ratio")}
    if ratios:
        name, best = max(ratios.items(), key=lambda item: item[1])
        verdict = "met" if best >= INGEST_TARGET else f"missed by {INGEST_TARGET / best:.1f}x"
        out.append(
            f"- Target ingest ≥ {INGEST_TARGET} × raw verify × cores: best ratio {best:.3f} "
            f"({name.removesuffix('_ratio')}), {verdict}."
        )
    if "cycle_extrapolated_300k_s" in figures:
        n, limit = CYCLE_TARGET
        reached = figures["cycle_instances"]
        took = figures["cycle_extrapolated_300k_s"]
        how = "measured" if reached >= n else f"extrapolated from {reached:,.0f} instances"
        verdict = "met" if took <= limit else f"missed by {took / limit:.1f}x"
        out.append(
            f"- Target {n:,} instances in a full cycle in under {limit / 60:.0f} minutes: "
            f"{took / 60:,.0f} minutes ({how}), {verdict}."
        )
    if "files_refused_instances" in figures:
        out.append(
            f"- The usage file of {figures['files_refused_instances']:,.0f} instances was "
            "refused on its round trip (see the files section)."
        )
    if "files_extrapolated_s_for_target" in figures:
        out.append(
            f"- Usage files were measured for {figures['files_instances']:,.0f} instances, not "
            f"{files.INSTANCES:,} (time budget); the three steps would take about "
            f"{figures['files_extrapolated_s_for_target']:,.0f} s for {files.INSTANCES:,}."
        )
    return out


def main() -> None:
    only = {s for s in os.environ.get("SMARTLIC_BENCH_ONLY", "").split(",") if s}
    started, load0 = time.perf_counter(), load_average()
    figures: dict[str, float] = {}
    failed: dict[str, str] = {}
    for name, measure in BENCHMARKS:
        if only and name not in only:
            continue
        say(f"bench: {name} (load average {load_average():.1f})")
        t = time.perf_counter()
        try:
            figures.update(measure())
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            reason = " ".join(str(exc).split())  # one line: it goes into a Markdown list
            failed[name] = f"{type(exc).__name__}: {reason[:300]}"
        say(f"bench: {name} done in {time.perf_counter() - t:.0f} s")
    text = table(figures, failed, started, load0)
    doc = DOC.read_text()
    before, rest = doc.split(START, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(before + START + "\n" + text + "\n" + END + after)
    print(text)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
