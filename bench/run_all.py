"""Run every benchmark in one process and rewrite the figures table of docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crypto

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def main() -> None:
    figures = crypto.measure()
    floor = figures["ed25519_verify_per_s"]
    rows = [
        "| figure | value | ratio to raw verify |",
        "|---|---:|---:|",
        *(f"| {name} | {value:,.0f} | {value / floor:.2f} |" for name, value in figures.items()),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}.",
    ]
    text = DOC.read_text()
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(before + START + "\n" + "\n".join(rows) + "\n" + END + after)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
