"""Usage files across the air gap for 100,000 product instances: sizes and seconds.

A disconnected utility holds one signed report per instance, for ``INSTANCES`` emulated
instances (own keys, real ``core`` artifacts). The reports are put into the utility's store with
its public service API — ``verify_report`` then ``Utility.store_reports``, 1,000 instances per
transaction — not over HTTP: the push path is measured by ``bench/latency.py`` and
``bench/collect.py``, and 100,000 HTTP pushes would not fit the ``make bench`` budget. Then the
three steps of the disconnected topology, each timed:

1. **Download All For Cisco** (``Utility.download_all``): one tar.gz usage file.
2. **The authority's upload**: ``smartlic authority usage upload`` as a process (the manual
   upload an administrator runs), which verifies and stores every report and writes the ACK file.
3. **Upload From Cisco** (``Utility.upload_from``): the ACK file verified in full and stored.

It then checks that nothing was lost: the ACK file acknowledges every report, the utility has
none waiting, the authority stored each once. A pilot of ``PILOT`` instances first gives the
cost per instance; when ``INSTANCES`` would not fit in ``BUDGET`` seconds, the largest size that
does is measured instead, and the output says so. A usage file the authority refuses (e.g. past
a size limit) is reported (``files_refused_instances``) and half the size is tried. Then the
authority's upload of 1,000 instances runs again under pyinstrument
(``docs/profiles/files-authority-upload.txt``).

    .venv/bin/python bench/files.py      # env: SMARTLIC_FILES_INSTANCES, SMARTLIC_FILES_BUDGET
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Provisioned, authority_counts, dump, env_int, make_fleet, provision, say
from smartlic.core.errors import OversizedError
from smartlic.utility.service import Utility, verify_report

INSTANCES = env_int("SMARTLIC_FILES_INSTANCES", 100_000)
BUDGET = env_int("SMARTLIC_FILES_BUDGET", 900)
PILOT = 2000
BATCH = 1000
PROFILED = 1000
PROFILE = Path(__file__).resolve().parents[1] / "docs" / "profiles" / "files-authority-upload.txt"


class Refused(RuntimeError):
    """The authority refused the usage file, or the utility the ACK file (e.g. a size limit)."""


def run(n: int, setup: Provisioned, folder: Path, profile: Path | None = None) -> dict[str, Any]:
    """One pass of the three steps for ``n`` instances; raises if anything is lost. With
    ``profile``, the authority's upload runs under pyinstrument and its profile is written
    there (its time then includes the profiler's)."""
    started = time.perf_counter()
    before = authority_counts(setup)["reports"]
    fleet = make_fleet(n, 1, int(time.time()), tag="FL")
    fig: dict[str, Any] = {"instances": n, "sign_s": time.perf_counter() - started}
    utility = Utility(folder / "utility")
    try:
        utility.configure(
            connected=False,
            account=setup.account,
            va=setup.va,
            authority_keys=setup.anchor_file.read_bytes(),
        )
        t = time.perf_counter()
        for i in range(0, n, BATCH):
            batch = fleet[i : i + BATCH]
            reports = [verify_report(env) for inst in batch for env in inst.reports]
            utility.store_reports(reports, str(batch[0].udi), "push", None)
        fig["store_s"] = time.perf_counter() - t
        del fleet
        usage = folder / "usage.tar.gz"
        t = time.perf_counter()
        down = utility.download_all(usage)
        fig["download_all_s"] = time.perf_counter() - t
        fig["usage_file_bytes"] = down["bytes"]
        ack = folder / "ack.tar.gz"
        t = time.perf_counter()
        command = ["authority", "usage", "upload", "--account", setup.account, "--va", setup.va]
        command += [str(usage), "--ack", str(ack), "--data", str(setup.authority_data), "--json"]
        runner = [sys.executable, "-m"]
        if profile is not None:
            profile.parent.mkdir(parents=True, exist_ok=True)
            runner += ["pyinstrument", "-r", "text", "--no-color", "-o", str(profile), "-m"]
        proc = subprocess.run(
            [*runner, "smartlic", *command],
            capture_output=True,
            text=True,
            check=False,
        )
        fig["authority_upload_s"] = time.perf_counter() - t
        if proc.returncode != 0:
            raise Refused(" ".join(f"{proc.stdout} {proc.stderr}".split())[:400])
        fig["ack_file_bytes"] = json.loads(proc.stdout)["bytes"]
        t = time.perf_counter()
        try:
            up = utility.upload_from(ack)
        except OversizedError as exc:
            raise Refused(f"Upload From Cisco: {exc.reason}") from None
        fig["upload_from_s"] = time.perf_counter() - t
        if up["reports_acked"] != n or up["waiting"] != 0 or up["acks"] != n:
            raise RuntimeError(f"Upload From Cisco acknowledged {up}, {n} reports sent")
    finally:
        utility.close()
    stored = authority_counts(setup)["reports"] - before
    if stored != n:
        raise RuntimeError(f"the authority stored {stored} reports, {n} sent")
    fig["steps_s"] = fig["download_all_s"] + fig["authority_upload_s"] + fig["upload_from_s"]
    fig["total_s"] = time.perf_counter() - started
    return fig


def measure(target: int = INSTANCES, budget: float = BUDGET) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="smartlic-files-") as tmp:
        root = Path(tmp)
        setup = provision(root)
        pilot = run(min(PILOT, target), setup, root / "pilot")
        per_instance = pilot["total_s"] / pilot["instances"]
        n = min(target, max(PILOT, int(budget / per_instance) // 1000 * 1000))
        if n < target:
            say(
                f"files: {target:,} instances would take about {target * per_instance:.0f} s, "
                f"more than the {budget:.0f} s budget; measuring {n:,}"
            )
        fig, refused = pilot, 0
        while n > pilot["instances"]:
            say(f"files: {n:,} instances")
            try:
                fig = run(n, setup, root / f"full-{n}")
                break
            except Refused as exc:
                # Reported, not hidden: the figures then say which size was refused and why.
                refused = refused or n
                say(f"files: the usage file of {n:,} instances was refused: {exc}")
                n = n // 2000 * 1000
        if os.environ.get("SMARTLIC_PROFILE", "1") != "0":
            say(f"files: profiling the authority's upload of {PROFILED:,} instances")
            run(min(PROFILED, target), setup, root / "profiled", PROFILE)
    fig["target_instances"] = target
    print(dump(fig), flush=True)
    out = {
        "files_instances": float(fig["instances"]),
        "files_usage_file_mb": fig["usage_file_bytes"] / 1e6,
        "files_download_all_s": fig["download_all_s"],
        "files_authority_upload_s": fig["authority_upload_s"],
        "files_ack_file_mb": fig["ack_file_bytes"] / 1e6,
        "files_upload_from_s": fig["upload_from_s"],
    }
    if refused:
        out["files_refused_instances"] = float(refused)
    if fig["instances"] < target:
        out["files_extrapolated_s_for_target"] = fig["steps_s"] * target / fig["instances"]
    return out


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:34} {value:12,.2f}")
