"""The utility's push endpoint (``POST /cslu/v1/pi``) on a real utility (SQLite in a temporary
folder, disconnected): every body gets a protocol response and nothing raises, not even a
``SmartLicError`` (a raise would be a 500 to the device)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core import xmlfile
    from smartlic.core.protocol import InstanceState, Kind, Request, Response
    from smartlic.utility.service import Utility

FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-utility-"))
UTILITY: Utility | None = None


def utility() -> Utility:
    global UTILITY
    if UTILITY is None:
        from tests import vectors

        UTILITY = Utility(FOLDER, clock=lambda: float(vectors.T0))
        UTILITY.configure(connected=False, authority_keys=golden_files()["keyset_v1.xml"])
    return UTILITY


def target(data: bytes) -> None:
    response = utility().handle(data)
    if Response.parse(response.to_bytes()) != response:
        raise AssertionError("the answer does not survive its own wire form")


def seeds() -> list[bytes]:
    from tests import vectors

    (rum,) = xmlfile.read(golden_files()["rum.xml"])
    state = InstanceState()
    usage = Request(
        Kind.USAGE_REPORT, "m1", vectors.T0, vectors.UDI, vectors.HA, state, reports=(rum,)
    )
    hello = Request(Kind.HELLO, "m2", vectors.T0, vectors.UDI, vectors.HA, state)
    return [usage.to_bytes(), hello.to_bytes()]


if __name__ == "__main__":
    fuzz("push_endpoint", target, seeds(), expected=())
