"""The authority's key set, its rotation, and the verifier every role shares.

The authority signs artifacts with short-lived *signing keys*; a long-lived *root key* signs the
*key set* that lists them with validity windows. Rotation publishes key set N+1 signed by the root
of key set N (and N+1 may name a new root). A verifier starts from a key set it trusts (shipped
with the product, as a device ships with its vendor's root) and walks forward one version at a
time, with a cap on steps: a skipped version, a set signed by anyone but the previous root, or an
older version (rollback) is refused. Like python-tuf's ``TrustedMetadataSet``, this class holds
all verification state and does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from smartlic.core import jsonio
from smartlic.core.envelope import ArtifactType, Envelope, SigningType, sign
from smartlic.core.errors import FormatError, RollbackError, SignatureMismatchError
from smartlic.core.keys import SigningKey, VerifyKey
from smartlic.core.timefmt import device_time

MAX_ROTATION_STEPS = 64
"""A chain longer than this is refused: it bounds the work an attacker can make us do."""


@dataclass(frozen=True)
class KeyEntry:
    key: VerifyKey
    not_before: int
    not_after: int

    def valid_at(self, now: int) -> bool:
        return self.not_before <= now <= self.not_after

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key.key_id,
            "public_key": self.key.b64(),
            "not_before": self.not_before,
            "not_after": self.not_after,
        }

    @classmethod
    def from_json(cls, fields: jsonio.Fields) -> KeyEntry:
        key_id = fields.str("key_id", max_len=64)
        key = VerifyKey.from_b64(fields.str("public_key", max_len=64), what=fields.path)
        not_before = fields.int("not_before", min=0)
        not_after = fields.int("not_after", min=0)
        fields.done()
        if key.key_id != key_id:
            fields.fail("key_id", "does not match the public key")
        if not_after < not_before:
            fields.fail("not_after", "is before not_before")
        return cls(key=key, not_before=not_before, not_after=not_after)


@dataclass(frozen=True)
class KeySet:
    version: int
    issued_at: int
    root: VerifyKey
    keys: tuple[KeyEntry, ...]
    authority: str = "smartlic"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "issued_at": self.issued_at,
            "authority": self.authority,
            "root": {"key_id": self.root.key_id, "public_key": self.root.b64()},
            "keys": [entry.to_json() for entry in self.keys],
        }

    @classmethod
    def from_json(cls, obj: Any) -> KeySet:
        fields = jsonio.Fields(obj, "keyset")
        version = fields.int("version", min=1)
        issued_at = fields.int("issued_at", min=0)
        authority = fields.str("authority", max_len=200)
        root_fields = fields.obj("root")
        root = VerifyKey.from_b64(root_fields.str("public_key", max_len=64), what="keyset.root")
        if root_fields.str("key_id", max_len=64) != root.key_id:
            root_fields.fail("key_id", "does not match the public key")
        root_fields.done()
        keys = tuple(KeyEntry.from_json(item) for item in fields.objs("keys", max_items=64))
        fields.done()
        if not keys:
            raise FormatError("keyset.keys: at least one signing key is required")
        return cls(version=version, issued_at=issued_at, root=root, keys=keys, authority=authority)

    def key_for(self, key_id: str, now: int) -> VerifyKey:
        """The signing key named ``key_id`` if it is valid at ``now``; else a signature mismatch.

        An artifact signed by a key that has expired, or is not yet valid, at the verifier's clock
        fails the same way a forged one does: this is why SLP says a signature mismatch means
        "the system clock is not accurate".
        """
        for entry in self.keys:
            if entry.key.key_id == key_id:
                if entry.valid_at(now):
                    return entry.key
                raise SignatureMismatchError(
                    f"signing key {key_id[:16]}... is valid from {device_time(entry.not_before)} "
                    f"to {device_time(entry.not_after)}, not at {device_time(now)}"
                )
        raise SignatureMismatchError(
            f"signing key {key_id[:16]}... is not in key set {self.version}"
        )


def sign_keyset(keyset: KeySet, signer: SigningKey) -> Envelope:
    """Sign ``keyset`` with ``signer``: its own root for version 1, the previous root after."""
    return sign(ArtifactType.KEYSET, keyset.to_json(), signer, SigningType.ROOT)


def _expect_root_signed(envelope: Envelope) -> None:
    envelope.expect(ArtifactType.KEYSET)
    if envelope.signature.signing_type is not SigningType.ROOT:
        raise SignatureMismatchError("a key set must be signed by the authority root key")


def parse_anchor(envelope: Envelope) -> KeySet:
    """Accept a first key set: it must verify under the root it names (self-signed anchor)."""
    _expect_root_signed(envelope)
    keyset = KeySet.from_json(envelope.payload_json())
    envelope.verify_with(keyset.root)
    return keyset


@dataclass
class Verifier:
    """Trusted authority keys and the rules for moving them forward. No I/O, no clock."""

    trusted: KeySet
    anchor: Envelope
    history: list[Envelope] = field(default_factory=list)

    @classmethod
    def from_anchor(cls, anchor: Envelope) -> Verifier:
        return cls(trusted=parse_anchor(anchor), anchor=anchor)

    @property
    def version(self) -> int:
        return self.trusted.version

    def chain(self) -> list[Envelope]:
        """Every key set envelope from the anchor to the trusted one, to pass on to others."""
        return [self.anchor, *self.history]

    def update(self, chain: Iterable[Envelope]) -> int:
        """Walk forward through ``chain``; returns how many versions were accepted.

        Versions at or below the trusted one are skipped when identical to what we accepted
        before; a different key set under an accepted version is a rollback or fork and is
        refused. The walk is all or nothing: on any error the trusted set does not change.
        """
        current = self.trusted
        accepted: list[Envelope] = []
        known = {self.anchor.payload: self.anchor, **{e.payload: e for e in self.history}}
        for step, envelope in enumerate(chain):
            if step >= MAX_ROTATION_STEPS:
                raise RollbackError(f"key set chain longer than {MAX_ROTATION_STEPS} steps")
            _expect_root_signed(envelope)
            if envelope.payload in known:
                continue
            envelope.verify_with(current.root)
            candidate = KeySet.from_json(envelope.payload_json())
            if candidate.version <= current.version:
                raise RollbackError(
                    f"key set version {candidate.version} is not newer than the trusted "
                    f"version {current.version}"
                )
            if candidate.version != current.version + 1:
                raise RollbackError(
                    f"key set version {candidate.version} skips version {current.version + 1}: "
                    "every rotation must be presented in order"
                )
            current = candidate
            accepted.append(envelope)
        self.trusted = current
        self.history.extend(accepted)
        return len(accepted)

    def verify(self, envelope: Envelope, *types: ArtifactType, now: int) -> Any:
        """Check type and signature against keys valid at ``now``; return the decoded payload."""
        envelope.expect(*types)
        if envelope.signature.signing_type is not SigningType.AUTHORITY:
            raise SignatureMismatchError(
                f"{envelope.type.value} must be signed by the authority, "
                f"not with signing type {envelope.signature.signing_type.value}"
            )
        key = self.trusted.key_for(envelope.signature.key, now)
        envelope.verify_with(key)
        if envelope.type in (ArtifactType.USAGE_FILE, ArtifactType.ACK_FILE):
            # A bundle manifest grows with the fleet: it has the bundle's limit, not 4 MiB.
            return jsonio.loads(
                envelope.payload,
                what=f"{envelope.type.value} payload",
                limit=jsonio.MAX_MANIFEST_BYTES,
            )
        return envelope.payload_json()
