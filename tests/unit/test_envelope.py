"""Signing and verifying envelopes: round trips, tampering, type confusion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartlic.core import jsonio
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, pae, sign
from smartlic.core.errors import ArtifactTypeError, FormatError, SignatureMismatchError
from smartlic.core.keys import SigningKey, VerifyKey

KEY = SigningKey.from_raw(bytes(range(32)))
OTHER = SigningKey.from_raw(bytes(range(1, 33)))

payloads = st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
    max_size=6,
)


def test_pae_is_unambiguous() -> None:
    # Moving bytes between type and payload must change the encoding.
    assert pae("ab", b"c") != pae("a", b"bc")
    assert pae("rum", b"{}").startswith(b"DSSEv1 ")


@given(payloads)
def test_sign_verify_round_trip(payload: dict[str, object]) -> None:
    envelope = sign(ArtifactType.POLICY, payload, KEY, SigningType.AUTHORITY)
    parsed = Envelope.parse(envelope.to_bytes())
    parsed.verify_with(KEY.public)
    assert parsed.payload_json() == payload
    assert parsed == envelope


@given(payloads, st.data())
def test_any_flipped_payload_byte_fails(payload: dict[str, object], data: st.DataObject) -> None:
    envelope = sign(ArtifactType.POLICY, payload, KEY, SigningType.AUTHORITY)
    raw = bytearray(envelope.payload_bytes)
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 127))
    try:
        tampered = Envelope(envelope.type, raw.decode(), envelope.signature)
    except UnicodeDecodeError:
        return
    with pytest.raises(SignatureMismatchError):
        tampered.verify_with(KEY.public)


@given(payloads, st.data())
def test_truncated_payload_fails(payload: dict[str, object], data: st.DataObject) -> None:
    envelope = sign(ArtifactType.ACK, payload, KEY, SigningType.AUTHORITY)
    cut = data.draw(st.integers(0, len(envelope.payload) - 1))
    tampered = Envelope(envelope.type, envelope.payload[:cut], envelope.signature)
    with pytest.raises(SignatureMismatchError):
        tampered.verify_with(KEY.public)


@given(payloads, st.sampled_from([t for t in ArtifactType if t is not ArtifactType.ACK]))
def test_changed_type_fails(payload: dict[str, object], other: ArtifactType) -> None:
    envelope = sign(ArtifactType.ACK, payload, KEY, SigningType.AUTHORITY)
    relabelled = Envelope(other, envelope.payload, envelope.signature)
    with pytest.raises(SignatureMismatchError):
        relabelled.verify_with(KEY.public)


def test_truncated_envelope_bytes_are_a_format_error() -> None:
    data = sign(ArtifactType.RUM, {"a": 1}, KEY, SigningType.BUILTIN).to_bytes()
    for cut in (1, len(data) // 2, len(data) - 1):
        with pytest.raises(FormatError):
            Envelope.parse(data[:cut])


def test_trailing_garbage_is_refused() -> None:
    data = sign(ArtifactType.RUM, {"a": 1}, KEY, SigningType.BUILTIN).to_bytes()
    with pytest.raises(FormatError, match="not valid JSON"):
        Envelope.parse(data + b"garbage")


def test_unknown_type_and_fields_are_refused() -> None:
    obj = sign(ArtifactType.RUM, {"a": 1}, KEY, SigningType.BUILTIN).to_json()
    obj["header"]["type"] = "coupon"
    with pytest.raises(FormatError, match=r"header\.type"):
        Envelope.from_json(obj)
    obj = sign(ArtifactType.RUM, {"a": 1}, KEY, SigningType.BUILTIN).to_json()
    obj["extra"] = 1
    with pytest.raises(FormatError, match="unknown field"):
        Envelope.from_json(obj)


def test_wrong_key_is_a_signature_mismatch() -> None:
    envelope = sign(ArtifactType.POLICY, {"a": 1}, KEY, SigningType.AUTHORITY)
    with pytest.raises(SignatureMismatchError, match="signed by key"):
        envelope.verify_with(OTHER.public)


def test_expect_refuses_other_types() -> None:
    envelope = sign(ArtifactType.ACK, {"a": 1}, KEY, SigningType.AUTHORITY)
    with pytest.raises(ArtifactTypeError, match="expected a policy artifact, got an ack"):
        envelope.expect(ArtifactType.POLICY)


def test_oversized_envelope_is_refused() -> None:
    with pytest.raises(FormatError, match="limit"):
        Envelope.parse(b"{" + b" " * 100 + b"}", limit=50)


def test_key_id_is_sha256_of_raw_key() -> None:
    import hashlib

    assert KEY.key_id == hashlib.sha256(KEY.public.raw).hexdigest()
    assert VerifyKey.from_b64(KEY.public.b64()) == KEY.public
    assert "SigningKey(" in repr(KEY) and KEY.raw().hex() not in repr(KEY)


def test_strict_json_rejects_floats_duplicates_and_nan() -> None:
    with pytest.raises(FormatError, match="floats"):
        jsonio.loads(b'{"a": 1.5}')
    with pytest.raises(FormatError, match="duplicate"):
        jsonio.loads(b'{"a": 1, "a": 2}')
    with pytest.raises(FormatError, match="NaN"):
        jsonio.loads(b'{"a": NaN}')
    with pytest.raises(FormatError, match="floats"):
        jsonio.dumps({"a": 0.5})
    with pytest.raises(FormatError, match="UTF-8"):
        jsonio.loads(b'{"a": "\xff"}')
