"""The utility's own secrets in its data folder: the key that encrypts device credentials at
rest (AES-256-GCM) and the Ed25519 key that signs its usage files. Both files are 0600."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from smartlic.core.errors import ConfigurationError
from smartlic.core.keys import SigningKey
from smartlic.utility.store import atomic_write

SECRET_KEY_FILE = "credentials.key"  # noqa: S105 (a file name)
SIGNING_KEY_FILE = "utility.key"


def _key_file(path: Path, make: bytes, size: int) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        atomic_write(path, make, mode=0o600)
        # Two processes may race to create it: the file on disk is the one that counts.
        data = path.read_bytes()
    if len(data) != size:
        raise ConfigurationError(f"{path} is damaged ({len(data)} bytes, expected {size})")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return data


class Vault:
    def __init__(self, data: Path) -> None:
        self.data = Path(data)
        self._aead = AESGCM(_key_file(self.data / SECRET_KEY_FILE, AESGCM.generate_key(256), 32))

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise ConfigurationError(
                f"stored credentials for {context} cannot be decrypted",
                hint=f"{SECRET_KEY_FILE} in the data folder was replaced; add the device again.",
            ) from None

    def signing_key(self) -> SigningKey:
        raw = _key_file(self.data / SIGNING_KEY_FILE, SigningKey.generate().raw(), 32)
        return SigningKey.from_raw(raw)
