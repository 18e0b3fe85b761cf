"""The authority's key store: a folder with the root key, the current signing key and the chain
of key set envelopes.

Layout::

    keys/root.key            raw Ed25519 private key, base64 (0600)
    keys/signing.key         the current signing key (0600)
    keys/keysets/0001.json   key set envelopes, version 1 (the anchor) onwards (0644)

Every file is written atomically (temp file, fsync, rename, fsync of the folder), so a crash
leaves either the old or the new file. ``rotate`` publishes key set N+1, signed by the root of
N, with a new signing key; the previous signing key stays in the set until ``overlap`` elapses.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from smartlic.core import jsonio
from smartlic.core.envelope import Envelope
from smartlic.core.errors import ConfigurationError
from smartlic.core.keys import SigningKey, b64decode, b64encode
from smartlic.core.keyset import KeyEntry, KeySet, sign_keyset

DAY = 86_400
SIGNING_KEY_LIFETIME = 730 * DAY
ROTATION_OVERLAP = 90 * DAY
CLOCK_SLACK = DAY
"""A new signing key is valid from a day before its creation: instances' clocks drift."""


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class KeyStore:
    folder: Path

    @property
    def root_path(self) -> Path:
        return self.folder / "root.key"

    @property
    def signing_path(self) -> Path:
        return self.folder / "signing.key"

    @property
    def keysets_dir(self) -> Path:
        return self.folder / "keysets"

    def exists(self) -> bool:
        return self.root_path.exists() and self.signing_path.exists()

    def init(self, now: int, authority: str = "smartlic") -> bool:
        """Create root key, signing key and key set 1; returns False when they already exist."""
        if self.exists():
            return False
        root = SigningKey.generate()
        signing = SigningKey.generate()
        keyset = KeySet(
            1,
            now,
            root.public,
            (KeyEntry(signing.public, now - CLOCK_SLACK, now + SIGNING_KEY_LIFETIME),),
            authority,
        )
        self._write_key(self.root_path, root)
        self._write_key(self.signing_path, signing)
        self._write_keyset(1, sign_keyset(keyset, root))
        return True

    def _write_key(self, path: Path, key: SigningKey) -> None:
        write_atomic(path, (b64encode(key.raw()) + "\n").encode(), 0o600)

    def _read_key(self, path: Path) -> SigningKey:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            raise ConfigurationError(
                f"no key at {path}", hint="Run `smartlic authority init` first."
            ) from None
        return SigningKey.from_raw(b64decode(text, what=str(path)))

    def _write_keyset(self, version: int, envelope: Envelope) -> None:
        write_atomic(self.keysets_dir / f"{version:04d}.json", envelope.to_bytes(), 0o644)

    def root(self) -> SigningKey:
        return self._read_key(self.root_path)

    def signing_key(self) -> SigningKey:
        return self._read_key(self.signing_path)

    def chain(self) -> list[Envelope]:
        """Every key set envelope, version 1 (the anchor) first."""
        if not self.keysets_dir.is_dir():
            raise ConfigurationError(
                f"no key sets in {self.keysets_dir}", hint="Run `smartlic authority init` first."
            )
        files = sorted(self.keysets_dir.glob("[0-9][0-9][0-9][0-9].json"))
        return [Envelope.parse(path.read_bytes()) for path in files]

    def current(self) -> KeySet:
        return KeySet.from_json(self.chain()[-1].payload_json())

    def anchor(self) -> Envelope:
        return self.chain()[0]

    def rotate(self, now: int, overlap: int = ROTATION_OVERLAP) -> KeySet:
        """Publish key set N+1 (signed by the root of N) with a new signing key."""
        current = self.current()
        root = self.root()
        if root.public != current.root:
            raise ConfigurationError("root.key does not match the newest key set's root")
        new_key = SigningKey.generate()
        kept = tuple(
            KeyEntry(entry.key, entry.not_before, min(entry.not_after, now + overlap))
            for entry in current.keys
            if entry.not_after >= now
        )
        keyset = KeySet(
            current.version + 1,
            now,
            root.public,
            (*kept, KeyEntry(new_key.public, now - CLOCK_SLACK, now + SIGNING_KEY_LIFETIME)),
            current.authority,
        )
        envelope = sign_keyset(keyset, root)
        # Key set first: if we crash before the key is written, the old key is still in the set.
        self._write_keyset(keyset.version, envelope)
        self._write_key(self.signing_path, new_key)
        return keyset

    def fingerprint(self) -> tuple[int, int]:
        """Changes whenever the signing key file is replaced (workers reload on change)."""
        stat = self.signing_path.stat()
        return (stat.st_mtime_ns, stat.st_ino)


def keyset_json(keyset: KeySet) -> dict[str, object]:
    return dict(jsonio.loads(jsonio.dumps(keyset.to_json())))
