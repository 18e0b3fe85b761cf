"""Durable state of one product instance: SQLite in WAL mode with ``synchronous=FULL``.

Every state change is one transaction (``with store.tx():``), so killing the process at any
point leaves either the state before or the state after, never half of it. The identity key is
a separate file (mode 0600) written atomically: temp file, fsync, rename, fsync of the folder.

Named fault points (``fault("ack.mid")``) let crash tests kill the process at a chosen place: when
the environment variable ``SMARTLIC_FAULT`` names the point, the process exits at once with
status 99 (``os._exit``: no cleanup, no commit), exactly as a power cut would.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

FAULT_ENV = "SMARTLIC_FAULT"
FAULT_EXIT = 99
DB_NAME = "instance.db"
KEY_NAME = "identity.key"

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    envelope TEXT NOT NULL,
    installed_at INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    UNIQUE (kind, ref)
);
CREATE TABLE IF NOT EXISTS reports (
    report_id INTEGER PRIMARY KEY,
    license TEXT NOT NULL,
    state TEXT NOT NULL,
    storage TEXT NOT NULL DEFAULT 'STORED',
    prev_id INTEGER NOT NULL DEFAULT 0,
    next_id INTEGER NOT NULL DEFAULT 0,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    count INTEGER NOT NULL,
    close_reason TEXT,
    envelope TEXT,
    digest TEXT,
    signing_type TEXT,
    reported_at INTEGER,
    acked_at INTEGER,
    ack_id TEXT
);
CREATE INDEX IF NOT EXISTS reports_state ON reports (state);
CREATE TABLE IF NOT EXISTS usage (
    license TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    since INTEGER NOT NULL,
    open_report INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS syslog (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    mnemonic TEXT NOT NULL,
    severity INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    operation TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stats (
    operation TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL DEFAULT 0,
    success INTEGER NOT NULL DEFAULT 0,
    fail INTEGER NOT NULL DEFAULT 0,
    last_at INTEGER,
    last_response TEXT
);
"""


def fault(point: str) -> None:
    """Exit the process at once if ``SMARTLIC_FAULT`` names this point (crash tests)."""
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Result(Protocol):
    """What a statement returns: an ``sqlite3.Cursor``, or rows already fetched."""

    @property
    def lastrowid(self) -> int | None: ...

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Executor(Protocol):
    """What ``tx()`` yields: something that runs one statement of the instance schema."""

    def execute(self, sql: str, params: tuple[Any, ...] = (), /) -> Result: ...


class StateStore(Protocol):
    """The durable state an agent needs: :class:`Store` (one SQLite file per instance) or a
    view of a fleet's shared database (:class:`smartlic.instance.fleet_store.FleetStore`)."""

    folder: Path

    def tx(self) -> contextlib.AbstractContextManager[Executor]: ...

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]: ...

    def row(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None: ...

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any: ...

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Result: ...

    def get(self, key: str, default: Any = None) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...

    @property
    def key_path(self) -> Path: ...

    def read_key(self) -> bytes | None: ...

    def write_key(self, raw: bytes) -> None: ...

    def close(self) -> None: ...


class KeyValue:
    """JSON values under string keys in the ``kv`` table, for any store with ``tx``/``scalar``."""

    def tx(self) -> contextlib.AbstractContextManager[Executor]:
        raise NotImplementedError

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        raise NotImplementedError

    def get(self, key: str, default: Any = None) -> Any:
        text = self.scalar("SELECT value FROM kv WHERE key = ?", (key,))
        return default if text is None else json.loads(text)

    def put(self, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value, sort_keys=True)),
            )

    def delete(self, key: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM kv WHERE key = ?", (key,))


class Transactions:
    """Nested transactions on one connection under a lock: the outermost use commits, inner
    ones join it. Shared by an instance's own store and a fleet's shared one."""

    db: sqlite3.Connection
    _lock: threading.RLock
    _depth: int

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic state change; nested uses join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.db
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")
            finally:
                self._depth = 0


class Store(Transactions, KeyValue):
    """The instance database. Thread-safe: one connection behind a re-entrant lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self.db = sqlite3.connect(
            self.folder / DB_NAME, isolation_level=None, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    # --- queries ----------------------------------------------------------------------------

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self.db.execute(sql, params))

    def row(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            found: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
            return found

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        found = self.row(sql, params)
        return None if found is None else found[0]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, params)

    # --- identity key -----------------------------------------------------------------------

    @property
    def key_path(self) -> Path:
        return self.folder / KEY_NAME

    def read_key(self) -> bytes | None:
        try:
            return self.key_path.read_bytes()
        except FileNotFoundError:
            return None

    def write_key(self, raw: bytes) -> None:
        atomic_write(self.key_path, raw, mode=0o600)
