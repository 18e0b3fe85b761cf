"""Key sets: anchors, rotation walks, and the attacks on them (one named test each)."""

from __future__ import annotations

import pytest

from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import (
    ArtifactTypeError,
    RollbackError,
    SignatureMismatchError,
)
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import MAX_ROTATION_STEPS, KeyEntry, KeySet, Verifier, sign_keyset

DAY = 86_400
T0 = 1_700_000_000


def _key(n: int) -> SigningKey:
    return SigningKey.from_raw(bytes([n]) * 32)


def _keyset(version: int, root: SigningKey, signing: list[SigningKey], start: int = T0) -> KeySet:
    return KeySet(
        version=version,
        issued_at=start,
        root=root.public,
        keys=tuple(KeyEntry(k.public, start, start + 365 * DAY) for k in signing),
    )


@pytest.fixture
def chain() -> tuple[list[Envelope], list[SigningKey]]:
    """Versions 1..4: root r1 until v3 introduces root r2; signing keys rotate each time."""
    r1, r2 = _key(1), _key(2)
    s = [_key(10 + i) for i in range(5)]
    v1 = sign_keyset(_keyset(1, r1, [s[0]]), r1)
    v2 = sign_keyset(_keyset(2, r1, [s[0], s[1]]), r1)
    v3 = sign_keyset(_keyset(3, r2, [s[1], s[2]]), r1)  # new root, signed by the old one
    v4 = sign_keyset(_keyset(4, r2, [s[2], s[3]]), r2)
    return [v1, v2, v3, v4], s


def test_anchor_must_be_self_signed() -> None:
    r1, other = _key(1), _key(9)
    forged = sign_keyset(_keyset(1, r1, [_key(10)]), other)
    with pytest.raises(SignatureMismatchError):
        Verifier.from_anchor(forged)


@pytest.mark.parametrize(
    ("start", "feed", "expected_version", "accepted"),
    [
        (0, [1, 2, 3], 4, 3),  # full walk, through a root change
        (0, [0, 1, 2, 3], 4, 3),  # the anchor again is skipped
        (0, [1], 2, 1),
        (1, [2, 3], 4, 2),  # starting from a later anchor
        (0, [], 1, 0),
    ],
)
def test_rotation_table(
    chain: tuple[list[Envelope], list[SigningKey]],
    start: int,
    feed: list[int],
    expected_version: int,
    accepted: int,
) -> None:
    envelopes, _ = chain
    verifier = Verifier.from_anchor(envelopes[0])
    verifier.update(envelopes[1 : start + 1])
    assert verifier.update([envelopes[i] for i in feed]) == accepted
    assert verifier.version == expected_version


def test_keyset_rollback_is_refused(chain: tuple[list[Envelope], list[SigningKey]]) -> None:
    envelopes, signing = chain
    verifier = Verifier.from_anchor(envelopes[0])
    verifier.update(envelopes[1:3])
    # An attacker re-signs an old-version key set with the (old, still trusted-looking) root r1.
    old = sign_keyset(_keyset(2, _key(1), [signing[0]]), _key(1))
    with pytest.raises((RollbackError, SignatureMismatchError)):
        verifier.update([old])
    assert verifier.version == 3
    # Same version, re-signed by the current root: a fork of an accepted version.
    fork = sign_keyset(_keyset(3, _key(2), [signing[4]]), _key(2))
    with pytest.raises(RollbackError, match="not newer"):
        verifier.update([fork])


def test_rotation_that_skips_a_signature_is_refused(
    chain: tuple[list[Envelope], list[SigningKey]],
) -> None:
    envelopes, _ = chain
    verifier = Verifier.from_anchor(envelopes[0])
    # v3 carries the new root and is signed by r1, but v2 (also by r1) was skipped.
    with pytest.raises(RollbackError, match="skips version 2"):
        verifier.update([envelopes[2]])
    # v4 is signed by r2, which only v3 introduced: without v3 it does not verify.
    verifier.update([envelopes[1]])
    with pytest.raises(SignatureMismatchError):
        verifier.update([envelopes[3]])
    assert verifier.version == 2


def test_failed_walk_changes_nothing(chain: tuple[list[Envelope], list[SigningKey]]) -> None:
    envelopes, _ = chain
    verifier = Verifier.from_anchor(envelopes[0])
    bad = sign_keyset(_keyset(3, _key(2), [_key(30)]), _key(99))
    with pytest.raises(SignatureMismatchError):
        verifier.update([envelopes[1], bad])
    assert verifier.version == 1
    assert verifier.chain() == [envelopes[0]]


def test_rotation_walk_is_capped() -> None:
    root = _key(1)
    envelopes = [
        sign_keyset(_keyset(v, root, [_key(10)]), root) for v in range(1, MAX_ROTATION_STEPS + 3)
    ]
    verifier = Verifier.from_anchor(envelopes[0])
    with pytest.raises(RollbackError, match="longer than"):
        verifier.update(envelopes[1:])
    assert verifier.version == 1


def test_verify_uses_keys_valid_at_the_clock(
    chain: tuple[list[Envelope], list[SigningKey]],
) -> None:
    envelopes, signing = chain
    verifier = Verifier.from_anchor(envelopes[0])
    policy = sign(ArtifactType.POLICY, {"x": 1}, signing[0], SigningType.AUTHORITY)
    assert verifier.verify(policy, ArtifactType.POLICY, now=T0 + DAY) == {"x": 1}
    with pytest.raises(SignatureMismatchError, match="not at"):
        verifier.verify(policy, ArtifactType.POLICY, now=T0 - DAY)
    with pytest.raises(SignatureMismatchError, match="not at"):
        verifier.verify(policy, ArtifactType.POLICY, now=T0 + 400 * DAY)
    # A key rotated in later is unknown until the key set that names it is accepted.
    later = sign(ArtifactType.POLICY, {"x": 2}, signing[1], SigningType.AUTHORITY)
    with pytest.raises(SignatureMismatchError, match="not in key set 1"):
        verifier.verify(later, ArtifactType.POLICY, now=T0 + DAY)
    verifier.update(envelopes[1:2])
    assert verifier.verify(later, ArtifactType.POLICY, now=T0 + DAY) == {"x": 2}


def test_valid_ack_presented_as_policy_is_refused(
    chain: tuple[list[Envelope], list[SigningKey]],
) -> None:
    envelopes, signing = chain
    verifier = Verifier.from_anchor(envelopes[0])
    ack = sign(ArtifactType.ACK, {"x": 1}, signing[0], SigningType.AUTHORITY)
    with pytest.raises(ArtifactTypeError):
        verifier.verify(ack, ArtifactType.POLICY, now=T0 + DAY)
    relabelled = Envelope(ArtifactType.POLICY, ack.payload, ack.signature)
    with pytest.raises(SignatureMismatchError):
        verifier.verify(relabelled, ArtifactType.POLICY, now=T0 + DAY)
    with pytest.raises(SignatureMismatchError):
        verifier.verify(
            Envelope(ArtifactType.TRUST_CODE, ack.payload, ack.signature),
            ArtifactType.TRUST_CODE,
            now=T0 + DAY,
        )


def test_instance_signed_artifact_cannot_pass_as_authority(
    chain: tuple[list[Envelope], list[SigningKey]],
) -> None:
    envelopes, signing = chain
    verifier = Verifier.from_anchor(envelopes[0])
    forged = sign(ArtifactType.POLICY, {"x": 1}, signing[0], SigningType.BUILTIN)
    with pytest.raises(SignatureMismatchError, match="must be signed by the authority"):
        verifier.verify(forged, ArtifactType.POLICY, now=T0 + DAY)
