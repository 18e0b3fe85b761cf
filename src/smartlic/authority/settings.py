"""Authority settings: where the data folder and the database are."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smartlic.authority.db import default_url
from smartlic.authority.keystore import KeyStore

DEFAULT_MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data: Path
    db_url: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    name: str = "smartlic authority"
    trust_per_minute: int = 60
    """Trust requests per client address and minute (0: no limit); bursts up to a third."""
    token_per_minute: int = 30
    """ID/API token creations per API token and minute (0: no limit)."""
    protocol_threads: int = 0
    """Product-instance messages one worker process works on at once (0: one per core); the
    others wait their turn without a thread. Their work is CPU-bound, so more threads than cores
    add only contention for the interpreter lock (docs/benchmarks.md, "Authority ingest")."""

    @property
    def url(self) -> str:
        return self.db_url or default_url(self.data)

    @property
    def keys(self) -> KeyStore:
        return KeyStore(self.data / "keys")
