"""The utility's durable state: one SQLite database (WAL, ``synchronous=FULL``) in ``--data``.

Every state change is one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the state before or
after it, never between. Other processes (the CLI while ``serve`` runs) open the same database;
WAL and a busy timeout let them take turns.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DB_NAME = "utility.db"
FAULT_ENV = "SMARTLIC_UTILITY_FAULT"
FAULT_EXIT = 86

SCHEMA = """
CREATE TABLE IF NOT EXISTS prefs (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    username TEXT NOT NULL,
    password BLOB NOT NULL,
    udi TEXT,
    scheme TEXT NOT NULL DEFAULT 'http',
    status TEXT NOT NULL DEFAULT 'new',
    error TEXT,
    last_collect_at INTEGER,
    UNIQUE (host, port)
);
CREATE TABLE IF NOT EXISTS instances (
    udi TEXT PRIMARY KEY,
    mode TEXT NOT NULL,
    hostname TEXT,
    last_seen INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'ok',
    error TEXT
);
CREATE TABLE IF NOT EXISTS reports (
    udi TEXT NOT NULL,
    report_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    envelope TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    uploaded_at INTEGER,
    ack_id TEXT,
    PRIMARY KEY (udi, report_id)
);
CREATE INDEX IF NOT EXISTS reports_waiting ON reports (ack_id) WHERE ack_id IS NULL;
CREATE TABLE IF NOT EXISTS polls (
    poll_id TEXT PRIMARY KEY,
    udi TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    response TEXT
);
CREATE TABLE IF NOT EXISTS acks (
    ack_id TEXT PRIMARY KEY,
    udi TEXT NOT NULL,
    envelope TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE TABLE IF NOT EXISTS ack_reports (
    ack_id TEXT NOT NULL,
    udi TEXT NOT NULL,
    report_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (ack_id, report_id)
);
CREATE TABLE IF NOT EXISTS artifacts (
    udi TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    PRIMARY KEY (udi, kind, ref)
);
CREATE TABLE IF NOT EXISTS keysets (version INTEGER PRIMARY KEY, envelope TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (
    bundle_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    path TEXT NOT NULL,
    reports INTEGER NOT NULL,
    imported_at INTEGER
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def fault(point: str) -> None:
    """Exit at once if ``SMARTLIC_UTILITY_FAULT`` names this point (crash tests)."""
    if os.environ.get(FAULT_ENV) == point:
        os._exit(FAULT_EXIT)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` so a crash leaves the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Store:
    """The database of one utility; safe to use from several threads and processes."""

    def __init__(self, data: Path) -> None:
        self.data = Path(data)
        self.data.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.data / DB_NAME
        self._local = threading.local()
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once, so writers never deadlock on upgrade)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return list(self._conn().execute(sql, params).fetchall())

    def row(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn().execute(sql, params).fetchone()
        return row

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.row(sql, params)
        return None if row is None else row[0]

    # --- preferences ------------------------------------------------------------------------

    def prefs(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.rows("SELECT * FROM prefs")}

    def set_prefs(self, **values: Any) -> None:
        with self.tx() as c:
            for key, value in values.items():
                c.execute(
                    "INSERT INTO prefs (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )

    def bump(self, name: str, by: int = 1) -> None:
        with self.tx() as c:
            c.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                (name, by),
            )

    def counter(self, name: str) -> int:
        return int(self.scalar("SELECT value FROM counters WHERE name = ?", (name,)) or 0)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
