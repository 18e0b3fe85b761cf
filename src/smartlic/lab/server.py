"""The process behind ``smartlic lab up``: the lab, plus a loopback control API for the CLI.

``python -m smartlic.lab.server DIR [--instances N] [--topology T]`` creates the lab (or opens
the one described in ``DIR/lab.json``), writes its ports, pid and control port to ``lab.json``
and serves until SIGTERM or Ctrl-C. ``POST /run`` runs a scenario in this lab (``smartlic lab
run --lab DIR``): the steps act on the running instances, utilities and authority, one scenario
at a time.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException

from smartlic.lab import scenario
from smartlic.lab.fleet import DESCRIPTION, STARTED, Lab, _Server


def control_app(lab: Lab) -> FastAPI:
    app = FastAPI(title="smartlic lab control", docs_url=None, redoc_url=None)
    lock = threading.Lock()

    @app.get("/status")
    def status() -> dict[str, Any]:
        with lock:
            return {
                "topology": lab.description["topology"],
                "rows": lab.rows(),
                "urls": lab.urls(),
                "password": lab.password,
                "tokens": lab.tokens,
            }

    @app.get("/progress")
    def progress() -> dict[str, int]:
        """Read without the lock: it answers while ``/advance`` runs."""
        done, total = lab.progress
        return {"done": done, "total": total}

    @app.post("/advance")
    def advance(body: dict[str, Any]) -> dict[str, Any]:
        with lock:
            try:
                lines = lab.advance(int(body["seconds"]), body.get("on"))
            except KeyError as exc:
                raise HTTPException(404, str(exc)) from None
            return {"lines": lines}

    @app.post("/cli")
    def cli(body: dict[str, Any]) -> dict[str, Any]:
        with lock:
            try:
                hosts = lab.select(body.get("on"))
            except KeyError as exc:
                raise HTTPException(404, str(exc)) from None
            return {"outputs": {h: lab.cli(h, str(body["line"])) for h in hosts}}

    @app.post("/run")
    def run(body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("scenario")
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            raise HTTPException(422, "a scenario is a mapping with a list of steps")
        with lock:
            report = scenario.run_in(lab, data, str(body.get("path", "scenario")))
            return asdict(report)

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlic.lab.server")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--instances", type=int, default=6)
    parser.add_argument("--topology", default="mixed")
    args = parser.parse_args(argv)
    folder: Path = args.dir
    started = 0

    def progress(count: int) -> None:
        nonlocal started
        started += count
        if started % 100 == 0:
            (folder / STARTED).write_text(str(started))

    if (folder / DESCRIPTION).exists():
        lab = Lab.open(folder, progress=progress)
    else:
        lab = Lab.create(
            folder, instances=args.instances, topology=args.topology, progress=progress
        )
    (folder / STARTED).unlink(missing_ok=True)
    control = _Server(control_app(lab))
    lab.description.update(control_port=control.port, pid=os.getpid())
    lab.save()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    control.stop()
    lab.description.pop("control_port", None)
    lab.save()
    lab.close()


if __name__ == "__main__":
    main()
