"""The process behind ``smartlic lab up``: the lab, plus a loopback control API for the CLI.

``python -m smartlic.lab.server DIR [--instances N] [--topology T]`` creates the lab (or opens
the one described in ``DIR/lab.json``), writes its ports, pid and control port to ``lab.json``
and serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException

from smartlic.lab.fleet import DESCRIPTION, Lab, _Server


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

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlic.lab.server")
    parser.add_argument("dir", type=Path)
    parser.add_argument("--instances", type=int, default=6)
    parser.add_argument("--topology", default="mixed")
    args = parser.parse_args(argv)
    folder: Path = args.dir
    if (folder / DESCRIPTION).exists():
        lab = Lab.open(folder)
    else:
        lab = Lab.create(folder, instances=args.instances, topology=args.topology)
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
