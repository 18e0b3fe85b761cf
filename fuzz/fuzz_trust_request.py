"""The trust request file the authority imports (``license smart save trust-request``): XML of
trust requests, each checked for proof of possession of the key it names."""

from __future__ import annotations

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.authority.trust.service import read_trust_request
    from smartlic.core import xmlfile


def target(data: bytes) -> None:
    for envelope in xmlfile.read(data):
        read_trust_request(envelope)


if __name__ == "__main__":
    fuzz("trust_request", target, [golden_files()["trust_request.xml"]])
