"""``make fuzz``: every atheris target in turn for a bounded time, then one summary line each.

``FUZZ_SECONDS`` (default 60) per target; ``FUZZ_TARGETS`` (comma separated, e.g.
``xmlfile,shell``) to run only some. Exits 1 when a target crashed; the input that did it is in
``build/fuzz/<target>/`` and becomes a named test in tests/unit/test_fuzz_regressions.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def main() -> int:
    seconds = int(os.environ.get("FUZZ_SECONDS", "60"))
    wanted = {t for t in os.environ.get("FUZZ_TARGETS", "").split(",") if t}
    targets = sorted(HERE.glob("fuzz_*.py"))
    if wanted:
        targets = [t for t in targets if t.stem.removeprefix("fuzz_") in wanted]
    summary: dict[str, dict[str, object]] = {}
    failed = False
    for path in targets:
        name = path.stem.removeprefix("fuzz_")
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, str(path), f"-max_total_time={seconds}", "-rss_limit_mb=2048"],
            capture_output=True,
            text=True,
            check=False,
        )
        found = DONE.search(done.stderr)
        crashes = sorted(str(p) for p in (HERE.parent / "build" / "fuzz" / name).glob("crash-*"))
        ok = done.returncode == 0
        failed |= not ok
        summary[name] = {
            "executions": int(found.group(1)) if found else None,
            "seconds": round(time.monotonic() - started, 1),
            "ok": ok,
            "crashes": crashes,
        }
        runs = summary[name]["executions"]
        print(f"{name:15} {'ok' if ok else 'CRASH':6} {runs} executions in {seconds} s", flush=True)
        if not ok:
            print(done.stderr[-4000:], file=sys.stderr)
    out = HERE.parent / "build" / "fuzz" / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
