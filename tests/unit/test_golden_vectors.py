"""The checked-in signed vectors still verify, still parse, and are what today's code produces."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from tests import vectors

from smartlic.core import bundle, xmlfile
from smartlic.core.artifacts import (
    Ack,
    AuthorizationCode,
    BundleManifest,
    PolicyGrant,
    ReturnCode,
    RumReport,
    TrustCode,
    TrustRequest,
    payload_digest,
)
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.keyset import Verifier

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "vectors"
NOW = vectors.T0 + 3 * vectors.DAY


def _one(name: str) -> Envelope:
    envelopes = xmlfile.read((GOLDEN / name).read_bytes())
    assert len(envelopes) == 1
    return envelopes[0]


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier.from_anchor(_one("keyset_v1.xml"))


@pytest.mark.parametrize("name", sorted(vectors.build().files))
def test_vector_is_what_the_code_produces(name: str) -> None:
    assert (GOLDEN / name).read_bytes() == vectors.build().files[name], (
        f"{name} changed: if the format change is intended, run `make golden` and say why"
    )


def test_keyset_rotation_vector(verifier: Verifier) -> None:
    assert verifier.update([_one("keyset_v2.xml")]) == 1
    assert verifier.version == 2


def test_authority_vectors_verify(verifier: Verifier) -> None:
    grant = PolicyGrant.from_json(verifier.verify(_one("policy.xml"), ArtifactType.POLICY, now=NOW))
    assert grant.policy.name == "Custom Policy" and grant.account == vectors.ACCOUNT
    trust = TrustCode.from_json(
        verifier.verify(_one("trust_code.xml"), ArtifactType.TRUST_CODE, now=NOW)
    )
    assert trust.udi == vectors.UDI and trust.public_key == vectors.INSTANCE.public
    slac = AuthorizationCode.from_json(
        verifier.verify(_one("slac.xml"), ArtifactType.SLAC, now=NOW)
    )
    assert slac.licenses[0].license_name == "hseck9"
    ack = Ack.from_json(verifier.verify(_one("ack.xml"), ArtifactType.ACK, now=NOW))
    assert ack.acked[0].digest == payload_digest(_one("rum.xml"))
    assert ack.policy is not None
    verifier.verify(ack.policy, ArtifactType.POLICY, now=NOW)


def test_instance_vectors_verify() -> None:
    key = vectors.INSTANCE.public
    for name, kind, cls in (
        ("trust_request.xml", ArtifactType.TRUST_REQUEST, TrustRequest),
        ("rum.xml", ArtifactType.RUM, RumReport),
        ("return_code.xml", ArtifactType.RETURN_CODE, ReturnCode),
    ):
        envelope = _one(name).expect(kind)
        envelope.verify_with(key)
        parsed = cls.from_json(envelope.payload_json())  # type: ignore[attr-defined]
        assert parsed.udi == vectors.UDI
    rum = RumReport.from_json(_one("rum.xml").payload_json())
    assert rum.public_key == key and rum.measurements[0].count == 2


def test_bundle_vectors_verify(verifier: Verifier) -> None:
    def utility_signed(signed: Envelope, manifest: BundleManifest) -> None:
        assert manifest.signer_public_key is not None
        signed.verify_with(manifest.signer_public_key)

    usage = list(
        bundle.read(
            io.BytesIO((GOLDEN / "usage_file.tar.gz").read_bytes()),
            ArtifactType.USAGE_FILE,
            utility_signed,
        )
    )
    assert [entry.udi for entry, _ in usage] == [vectors.UDI]

    def authority_signed(signed: Envelope, manifest: BundleManifest) -> None:
        verifier.verify(signed, ArtifactType.ACK_FILE, now=NOW)

    acks = list(
        bundle.read(
            io.BytesIO((GOLDEN / "ack_file.tar.gz").read_bytes()),
            ArtifactType.ACK_FILE,
            authority_signed,
        )
    )
    assert acks[0][1][0].type is ArtifactType.ACK
