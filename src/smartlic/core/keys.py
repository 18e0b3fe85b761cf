"""Ed25519 keys and key ids.

A key id is the SHA-256 of the raw 32-byte public key, in hex: stable across encodings, so the
same key is named the same way in a signature block, a key set and a trust code. Private keys
never leave this module except as raw bytes for a key store to persist.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, PublicFormat
from cryptography.hazmat.primitives.serialization import NoEncryption as _NoEncryption

from smartlic.core.errors import FormatError
from smartlic.core.once import once

RAW_KEY_BYTES = 32
SIGNATURE_BYTES = 64


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, what: str) -> bytes:
    """Strict standard base64: padding and alphabet are checked, whitespace refused."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise FormatError(f"{what} is not valid base64") from None


def key_id_of(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()


@dataclass(frozen=True)
class VerifyKey:
    """A public key; equality and hashing follow the raw bytes."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != RAW_KEY_BYTES:
            raise FormatError(f"public key must be {RAW_KEY_BYTES} bytes, got {len(self.raw)}")

    @once
    def key_id(self) -> str:
        return key_id_of(self.raw)

    def b64(self) -> str:
        return b64encode(self.raw)

    @classmethod
    def from_b64(cls, text: str, *, what: str = "public key") -> VerifyKey:
        return cls(b64decode(text, what=what))

    @once
    def _loaded(self) -> Ed25519PublicKey:
        # Loaded once per key: the readers share one VerifyKey for all reports of an instance.
        return Ed25519PublicKey.from_public_bytes(self.raw)

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self._loaded.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class SigningKey:
    """A private key. Not a dataclass: its bytes must not appear in reprs or comparisons."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self._public = VerifyKey(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, raw: bytes) -> SigningKey:
        if len(raw) != RAW_KEY_BYTES:
            raise FormatError(f"private key must be {RAW_KEY_BYTES} bytes, got {len(raw)}")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def raw(self) -> bytes:
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, _NoEncryption())

    @property
    def public(self) -> VerifyKey:
        return self._public

    @property
    def key_id(self) -> str:
        return self._public.key_id

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id[:16]}...)"
