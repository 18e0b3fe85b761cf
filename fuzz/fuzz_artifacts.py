"""Every artifact payload decoder (RUM report, ACK, policy, trust request and code, SLAC, return
code, key set, bundle manifest) and the envelope around them.

The first byte picks the decoder; the rest is the payload JSON (or, for ``envelope``, the
envelope JSON, which is then verified against the golden key set at the golden time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import atheris
from harness import fuzz, golden_files

with atheris.instrument_imports(include=["smartlic"]):
    from smartlic.core import jsonio, xmlfile
    from smartlic.core.artifacts import (
        Ack,
        AuthorizationCode,
        BundleManifest,
        PolicyGrant,
        ReturnCode,
        RumReport,
        TrustCode,
        TrustRequest,
    )
    from smartlic.core.envelope import ArtifactType, Envelope
    from smartlic.core.keyset import KeySet, Verifier

DECODERS: list[Callable[[Any], Any]] = [
    RumReport.from_json,
    Ack.from_json,
    PolicyGrant.from_json,
    TrustRequest.from_json,
    TrustCode.from_json,
    AuthorizationCode.from_json,
    ReturnCode.from_json,
    KeySet.from_json,
    BundleManifest.from_json,
]
_verifier: Verifier | None = None


def verifier() -> Verifier:
    global _verifier
    if _verifier is None:
        files = golden_files()
        (anchor,) = xmlfile.read(files["keyset_v1.xml"])
        _verifier = Verifier.from_anchor(anchor)
        _verifier.update(xmlfile.read(files["keyset_v2.xml"]))
    return _verifier


def target(data: bytes) -> None:
    if not data:
        return
    choice, body = data[0] % (len(DECODERS) + 1), data[1:]
    if choice == len(DECODERS):
        from tests import vectors

        envelope = Envelope.parse(body)
        payload = verifier().verify(envelope, *ArtifactType, now=vectors.T0)
        if isinstance(payload, dict):
            envelope.payload_json()
        return
    DECODERS[choice](jsonio.loads(body))


def seeds() -> list[bytes]:
    files = golden_files()
    order = ["rum", "ack", "policy", "trust_request", "trust_code", "slac", "return_code"]
    out = []
    for i, name in enumerate([*order, "keyset_v1"]):
        (envelope,) = xmlfile.read(files[f"{name}.xml"])
        out.append(bytes([i]) + envelope.payload_bytes)
        out.append(bytes([len(DECODERS)]) + envelope.to_bytes())
    return out


if __name__ == "__main__":
    fuzz("artifacts", target, seeds())
