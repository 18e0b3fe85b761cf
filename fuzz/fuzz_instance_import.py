"""``license smart import`` on a real product-instance agent: ACK, policy, SLAC and trust code
files as XML (or base64 of it) and the authority's tar.gz ACK file, verified and installed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core import xmlfile
    from smartlic.instance import Agent, Identity, ManualClock

AGENT: Agent | None = None


def agent() -> Agent:
    global AGENT
    if AGENT is None:
        from tests import vectors

        (anchor,) = xmlfile.read(golden_files()["keyset_v1.xml"])
        folder = Path(tempfile.mkdtemp(prefix="fuzz-instance-"))
        AGENT = Agent.open(
            folder, Identity(vectors.UDI), clock=ManualClock(vectors.T0 + 3600), anchor=anchor
        )
    return AGENT


def target(data: bytes) -> None:
    agent().import_bytes(data)


if __name__ == "__main__":
    files = golden_files()
    names = ["ack.xml", "policy.xml", "slac.xml", "trust_code.xml", "ack_file.tar.gz"]
    fuzz("instance_import", target, [files[n] for n in names])
