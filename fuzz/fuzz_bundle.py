"""tar.gz usage and ACK files (Download All / Upload From, the authority's ACK file).

The first byte picks the kind of file expected, the rest is the file; the manifest check accepts
any signature so the fuzzer reaches the member checks behind it.
"""

from __future__ import annotations

import io

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core import bundle
    from smartlic.core.artifacts import BundleManifest
    from smartlic.core.envelope import ArtifactType, Envelope

KINDS = (ArtifactType.USAGE_FILE, ArtifactType.ACK_FILE)


def _accept(signed: Envelope, manifest: BundleManifest) -> None:
    return None


def target(data: bytes) -> None:
    if not data:
        return
    kind = KINDS[data[0] % len(KINDS)]
    for _entry, envelopes in bundle.read(io.BytesIO(data[1:]), kind, _accept):
        for envelope in envelopes:
            envelope.payload_json()


if __name__ == "__main__":
    files = golden_files()
    fuzz(
        "bundle",
        target,
        [b"\x00" + files["usage_file.tar.gz"], b"\x01" + files["ack_file.tar.gz"]],
    )
