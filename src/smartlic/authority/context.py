"""What every authority service needs: sessions, keys, clock and catalog."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from smartlic.authority import parallel_verify
from smartlic.authority.clock import Clock, SystemClock
from smartlic.authority.db import make_engine, make_sessions
from smartlic.authority.keystore import KeyStore
from smartlic.authority.parallel_verify import ParallelVerifier
from smartlic.core.catalog import Catalog, default_catalog
from smartlic.core.envelope import Envelope
from smartlic.core.keys import SigningKey
from smartlic.core.keyset import KeySet


@dataclass
class Authority:
    engine: Engine
    keys: KeyStore
    clock: Clock = field(default_factory=SystemClock)
    catalog: Catalog = field(default_factory=default_catalog)
    name: str = "smartlic authority"
    sessions: sessionmaker[Session] = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _cached: tuple[tuple[int, int], SigningKey, list[Envelope], KeySet] | None = field(
        init=False, default=None
    )

    verifier: ParallelVerifier = field(init=False, default=parallel_verify.shared)
    """Checks the signatures of a large batch on every core (one pool of helper processes per
    OS process, started on first use)."""

    names: dict[tuple[str, str], tuple[str, str]] = field(init=False, default_factory=dict)
    """(account id, VA id) → (smart account name, VA name): names never change, so each worker
    remembers them (the ACK path asks for them on every request)."""

    def __post_init__(self) -> None:
        self.sessions = make_sessions(self.engine)

    @classmethod
    def open(cls, url: str, keys: KeyStore, clock: Clock | None = None) -> Authority:
        return cls(engine=make_engine(url), keys=keys, clock=clock or SystemClock())

    def now(self) -> int:
        return self.clock.now()

    def _load(self) -> tuple[SigningKey, list[Envelope], KeySet]:
        fingerprint = self.keys.fingerprint()
        with self._lock:
            if self._cached is None or self._cached[0] != fingerprint:
                chain = self.keys.chain()
                keyset = KeySet.from_json(chain[-1].payload_json())
                self._cached = (fingerprint, self.keys.signing_key(), chain, keyset)
            return self._cached[1], self._cached[2], self._cached[3]

    def signer(self) -> SigningKey:
        return self._load()[0]

    def chain(self) -> list[Envelope]:
        return self._load()[1]

    def keyset(self) -> KeySet:
        return self._load()[2]
