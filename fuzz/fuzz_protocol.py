"""Push endpoint bodies: ``core.protocol`` requests (what a utility or the authority receives
from a product instance) and responses (what an instance receives back)."""

from __future__ import annotations

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core import xmlfile
    from smartlic.core.protocol import InstanceState, Kind, Request, Response


def target(data: bytes) -> None:
    if not data:
        return
    if data[0] & 1:
        Response.parse(data[1:]).to_bytes()
    else:
        request = Request.parse(data[1:])
        request.to_bytes()
        for envelope in request.reports:
            envelope.payload_json()


def seeds() -> list[bytes]:
    from tests import vectors

    (rum,) = xmlfile.read(golden_files()["rum.xml"])
    request = Request(
        Kind.USAGE_REPORT,
        "m1",
        vectors.T0,
        vectors.UDI,
        vectors.HA,
        InstanceState(),
        reports=(rum,),
    )
    (ack,) = xmlfile.read(golden_files()["ack.xml"])
    return [
        b"\x00" + request.to_bytes(),
        b"\x01" + Response.poll("m1", "p1", 60).to_bytes(),
        b"\x01" + Response.ok("m1", (ack,)).to_bytes(),
    ]


if __name__ == "__main__":
    fuzz("protocol", target, seeds())
