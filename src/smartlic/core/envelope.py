"""The signed envelope every artifact travels in: ``header``, ``payload`` (a string), ``signature``.

The layout is the one of a real RUM report (``header{type}``, ``payload`` as a compact JSON
*string*, ``signature{sudi, signing_type, key, value}``). What is signed is not the JSON of the
envelope but a DSSE-style pre-authentication encoding of the artifact type and the exact payload
bytes: the bytes are verified before they are parsed, whitespace or escaping in the payload can
never be "normalised" into a different meaning, and a signature made for one type (an ACK) can
never verify as another (a trust code). See docs/adr/0002-signature-scheme.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from smartlic.core import jsonio
from smartlic.core.errors import ArtifactTypeError, FormatError, SignatureMismatchError
from smartlic.core.keys import SIGNATURE_BYTES, SigningKey, VerifyKey, b64decode, b64encode
from smartlic.core.once import once
from smartlic.core.udi import Udi

FORMAT_VERSION = "1.0"
_KEY_ID = re.compile(r"[0-9a-f]{64}")
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024
_MEMO_LIMIT = 10_000


class ArtifactType(StrEnum):
    KEYSET = "keyset"
    POLICY = "policy"
    TRUST_REQUEST = "trust_request"
    TRUST_CODE = "trust_code"
    RUM = "rum"
    ACK = "ack"
    SLAC = "slac"
    RETURN_CODE = "return_code"
    USAGE_FILE = "usage_file"
    ACK_FILE = "ack_file"


class SigningType(StrEnum):
    BUILTIN = "builtin"
    """Signed by the product instance's own key before any trust code: integrity, not origin."""
    TRUST = "trust"
    """Signed by the product instance's key after the authority bound it to the UDI."""
    AUTHORITY = "authority"
    ROOT = "root"
    UTILITY = "utility"


_ARTIFACT_TYPES = tuple(t.value for t in ArtifactType)
_SIGNING_TYPES = tuple(t.value for t in SigningType)

_udis: dict[tuple[str, str], Udi] = {}


def read_sudi(fields: jsonio.Fields) -> Udi:
    """``Udi.from_sudi`` that remembers what it has read.

    A batch of reports names the same few UDIs thousands of times (signature block, instance,
    HA list), and checking a UDI character by character costs more than the rest of its
    envelope. Only a pair of strings that passed every check once is remembered; anything else
    goes through ``Udi.from_sudi`` and fails there with its usual message.
    """
    pid = fields.str("udi_pid")
    sn = fields.str("udi_serial_number")
    fields.done()
    udi = _udis.get((pid, sn))
    if udi is None:
        udi = Udi.from_sudi(fields)
        if len(_udis) >= _MEMO_LIMIT:
            _udis.clear()
        _udis[(pid, sn)] = udi
    return udi


_SUDI_KEYS = frozenset({"udi_pid", "udi_serial_number"})


def known_udi(sudi: object) -> Udi | None:
    """The UDI of a plain ``sudi`` object that ``read_sudi`` has already checked, else None
    (the caller then reads it with ``read_sudi`` and gets its checks and messages)."""
    if type(sudi) is not dict or sudi.keys() != _SUDI_KEYS:
        return None
    pid, sn = sudi["udi_pid"], sudi["udi_serial_number"]
    if type(pid) is not str or type(sn) is not str:
        return None
    return _udis.get((pid, sn))


def pae(artifact_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: unambiguous concatenation of type and payload."""
    type_bytes = f"smartlic/{artifact_type}@{FORMAT_VERSION}".encode()
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    signing_type: SigningType
    key: str
    """Key id (SHA-256 of the raw public key, hex)."""
    value: bytes
    sudi: Udi | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sudi is not None:
            out["sudi"] = self.sudi.to_sudi()
        out["signing_type"] = self.signing_type.value
        out["key"] = self.key
        out["value"] = b64encode(self.value)
        return out

    @classmethod
    def from_json(cls, fields: jsonio.Fields) -> Signature:
        sudi_fields = fields.opt_obj("sudi")
        signing_type = fields.choice("signing_type", _SIGNING_TYPES)
        key = fields.str("key", max_len=64)
        if not _KEY_ID.fullmatch(key):
            fields.fail("key", "expected a key id (64 lowercase hex digits)")
        value = b64decode(fields.str("value", max_len=88), what=f"{fields.path}.value")
        if len(value) != SIGNATURE_BYTES:
            fields.fail("value", f"expected a {SIGNATURE_BYTES}-byte Ed25519 signature")
        fields.done()
        return cls(
            signing_type=SigningType(signing_type),
            key=key,
            value=value,
            sudi=read_sudi(sudi_fields) if sudi_fields is not None else None,
        )


@dataclass(frozen=True)
class Envelope:
    """A signed artifact as bytes on the wire; ``payload`` is kept exactly as received."""

    type: ArtifactType
    payload: str
    signature: Signature
    version: str = FORMAT_VERSION

    @once
    def payload_bytes(self) -> bytes:
        """Encoded once: the signature check and the digest both need the bytes."""
        return self.payload.encode()

    def to_json(self) -> dict[str, Any]:
        return {
            "header": {"type": self.type.value, "version": self.version},
            "payload": self.payload,
            "signature": self.signature.to_json(),
        }

    def to_bytes(self) -> bytes:
        # Every value of an envelope is a string: the authority re-serialises each stored report.
        return jsonio.dumps_typed(self.to_json())

    def payload_json(self) -> Any:
        """Decode the payload. Only call this after the signature has been verified."""
        return jsonio.loads(self.payload_bytes, what=f"{self.type.value} payload")

    def signed_bytes(self) -> bytes:
        return pae(self.type.value, self.payload_bytes)

    def verify_with(self, key: VerifyKey) -> None:
        """Raise unless ``key`` made this signature over this type and these payload bytes."""
        if self.signature.key != key.key_id:
            raise SignatureMismatchError(
                f"{self.type.value} is signed by key {self.signature.key[:16]}..., "
                f"expected key {key.key_id[:16]}..."
            )
        if not key.verify(self.signature.value, self.signed_bytes()):
            raise SignatureMismatchError(f"{self.type.value} signature does not verify")

    @classmethod
    def from_json(
        cls, obj: Any, *, path: str = "envelope", max_payload: int = MAX_ENVELOPE_BYTES
    ) -> Envelope:
        """``max_payload`` is raised only by readers of larger documents (bundle manifests)."""
        plain = plain_envelope(obj, max_payload)
        if plain is not None:
            return plain
        fields = jsonio.Fields(obj, path)
        header = fields.obj("header")
        type_name = header.choice("type", _ARTIFACT_TYPES)
        version = header.str("version", max_len=16)
        header.done()
        if version != FORMAT_VERSION:
            header.fail("version", f"unsupported format version {version!r} (expected 1.0)")
        payload = fields.str("payload", max_len=max_payload)
        signature = Signature.from_json(fields.obj("signature"))
        fields.done()
        return cls(type=ArtifactType(type_name), payload=payload, signature=signature)

    @classmethod
    def parse(cls, data: bytes | str, *, limit: int = MAX_ENVELOPE_BYTES) -> Envelope:
        return cls.from_json(
            jsonio.loads(data, what="signed artifact", limit=limit), max_payload=limit
        )

    def expect(self, *types: ArtifactType) -> Envelope:
        """Refuse an artifact of another type before anything else looks at it."""
        if self.type not in types:
            wanted = " or ".join(t.value for t in types)
            raise ArtifactTypeError(
                f"expected {_article(wanted)} {wanted} artifact, "
                f"got {_article(self.type.value)} {self.type.value}"
            )
        return self


_ENVELOPE_KEYS = frozenset({"header", "payload", "signature"})
_HEADER_KEYS = frozenset({"type", "version"})
_SIGNATURE_KEYS = (
    frozenset({"signing_type", "key", "value"}),
    frozenset({"sudi", "signing_type", "key", "value"}),
)
_TYPE_OF = {t.value: t for t in ArtifactType}
_SIGNING_TYPE_OF = {t.value: t for t in SigningType}


def plain_envelope(obj: object, max_payload: int = MAX_ENVELOPE_BYTES) -> Envelope | None:
    """``Envelope.from_json`` without ``Fields`` for the shape every writer produces (a request
    of 5,000 reports holds 5,000 envelopes); None for anything else or anything doubtful, which
    the checked path then reads and names. Accepts a subset of it and builds the same value.
    Every leaf is checked for its exact type, so a value this reads holds no float (a batch
    reader relies on that to skip its walk)."""
    if type(obj) is not dict or obj.keys() != _ENVELOPE_KEYS:
        return None
    header, payload, sig = obj["header"], obj["payload"], obj["signature"]
    if type(header) is not dict or header.keys() != _HEADER_KEYS:
        return None
    type_name, version = header["type"], header["version"]
    if type(type_name) is not str or version != FORMAT_VERSION or type_name not in _TYPE_OF:
        return None
    if type(payload) is not str or len(payload) > max_payload:
        return None
    if type(sig) is not dict or sig.keys() not in _SIGNATURE_KEYS:
        return None
    signing_type, key, value = sig["signing_type"], sig["key"], sig["value"]
    if type(signing_type) is not str or signing_type not in _SIGNING_TYPE_OF:
        return None
    if type(key) is not str or not _KEY_ID.fullmatch(key):
        return None
    if type(value) is not str or len(value) > 88:
        return None
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    sudi = sig.get("sudi")
    udi = None if sudi is None else known_udi(sudi)
    if len(raw) != SIGNATURE_BYTES or (sudi is not None and udi is None):
        return None
    signature = Signature(_SIGNING_TYPE_OF[signing_type], key, raw, udi)
    return Envelope(_TYPE_OF[type_name], payload, signature)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def sign(
    artifact_type: ArtifactType,
    payload: dict[str, Any] | bytes,
    key: SigningKey,
    signing_type: SigningType,
    *,
    sudi: Udi | None = None,
) -> Envelope:
    """Serialise ``payload`` (unless already bytes) and sign it for ``artifact_type``."""
    payload_bytes = payload if isinstance(payload, bytes) else jsonio.dumps(payload)
    try:
        payload_text = payload_bytes.decode()
    except UnicodeDecodeError:
        raise FormatError("payload must be UTF-8") from None
    value = key.sign(pae(artifact_type.value, payload_bytes))
    return Envelope(
        type=artifact_type,
        payload=payload_text,
        signature=Signature(signing_type=signing_type, key=key.key_id, value=value, sudi=sudi),
    )
