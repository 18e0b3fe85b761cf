"""One SQLite database for a whole fleet of product instances, each agent seeing only its rows.

A standalone instance keeps its own database file (:class:`~smartlic.instance.store.Store`): three
open files per instance, so a process holding ten thousand of them runs out of descriptors. A
:class:`FleetStore` keeps every agent's state in one database (WAL, ``synchronous=FULL``), in
tables shaped like the instance schema plus an ``owner`` column, and hands each agent a
:class:`ScopedStore` keyed by its UDI (docs/adr/0008-fleet-store.md).

The agent's SQL is not changed: a scoped store rewrites each statement of the instance schema
once (the result is cached by statement text) so that it reads and writes only the owner's rows:

* every table read (``FROM t``, ``JOIN t``) becomes a common table expression named ``t`` over
  ``fleet_t WHERE owner = fleet_owner()``;
* ``UPDATE t`` / ``DELETE FROM t`` target ``fleet_t`` with ``owner = fleet_owner() AND (...)``;
* ``INSERT INTO t (cols) VALUES (...)`` adds the owner column and value, and an
  ``ON CONFLICT (cols)`` target gains ``owner`` (unique keys are per owner).

``fleet_owner()`` is a function of the connection that returns the owner of the statement being
run; statements run, and their rows are fetched, under the fleet's lock, so an agent never sees
another's rows. Anything else (``PRAGMA``, DDL, ``INSERT ... SELECT``) is refused by name.
Each state change is still one transaction, as in the standalone store.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartlic.instance.store import SCHEMA, KeyValue, Transactions

FLEET_DB = "fleet.db"
PREFIX = "fleet_"
OWNER_FN = "fleet_owner"

_TOKEN = re.compile(
    r"""\s+|'(?:[^']|'')*'|"(?:[^"]|"")*"|[A-Za-z_][A-Za-z0-9_]*|\?\d*|\d+(?:\.\d+)?|<=|>=|!=|<>|\|\||.""",
    re.DOTALL,
)
_READS = {"FROM", "JOIN"}


class FleetSqlError(ValueError):
    """A statement a scoped store cannot confine to one owner (a programming error)."""


def _refused(reason: str, sql: str) -> FleetSqlError:
    return FleetSqlError(f"{reason}: {sql!r}")


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    ddl: tuple[str, ...]
    order: str
    """What a standalone scan of the table follows (its rowid): an unordered query returns the
    rows of a fleet agent in the same order as a standalone instance's."""


def _fleet_schema() -> dict[str, _Table]:
    """The fleet tables, derived from the instance schema so the two never drift apart.

    Every key becomes per owner: ``(owner, key)`` for primary keys and ``UNIQUE`` sets, indexes
    lead with ``owner``. An ``INTEGER PRIMARY KEY AUTOINCREMENT`` stays a fleet-wide rowid (ids
    stay increasing per owner, which is all the agent relies on) with an ``(owner, id)`` index.
    """
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        tables: dict[str, _Table] = {}
        for name in names:
            sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            info = list(db.execute(f"PRAGMA table_info({name})"))
            pk = [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])]
            autoincrement = "AUTOINCREMENT" in sql.upper()
            fleet = PREFIX + name
            cols = ["owner INTEGER NOT NULL"]
            for _, col, kind, notnull, default, is_pk in info:
                spec = f"{col} {kind}"
                if is_pk and autoincrement:
                    spec += " PRIMARY KEY AUTOINCREMENT"
                if notnull or (is_pk and not autoincrement):
                    spec += " NOT NULL"
                if default is not None:
                    spec += f" DEFAULT {default}"
                cols.append(spec)
            if pk and not autoincrement:
                cols.append(f"PRIMARY KEY (owner, {', '.join(pk)})")
            ddl = [f"CREATE TABLE IF NOT EXISTS {fleet} ({', '.join(cols)})"]
            if autoincrement:
                ddl.append(f"CREATE INDEX IF NOT EXISTS {fleet}_owner ON {fleet} (owner, {pk[0]})")
            for index in db.execute(f"PRAGMA index_list({name})"):
                index_name, unique, origin = index[1], index[2], index[3]
                keys = [r[2] for r in db.execute(f"PRAGMA index_info({index_name})")]
                if origin == "pk":
                    continue
                if origin == "u":
                    ddl[0] = ddl[0][:-1] + f", UNIQUE (owner, {', '.join(keys)}))"
                else:
                    kind = "UNIQUE INDEX" if unique else "INDEX"
                    ddl.append(
                        f"CREATE {kind} IF NOT EXISTS {PREFIX}{index_name} "
                        f"ON {fleet} (owner, {', '.join(keys)})"
                    )
            rowid_alias = len(pk) == 1 and any(r[1] == pk[0] and r[2] == "INTEGER" for r in info)
            order = pk[0] if rowid_alias else "rowid"
            tables[name] = _Table(name, tuple(r[1] for r in info), tuple(ddl), order)
        return tables
    finally:
        db.close()


TABLES = _fleet_schema()
FLEET_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS fleet_owners (id INTEGER PRIMARY KEY, udi TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS fleet_keys (owner INTEGER PRIMARY KEY, raw BLOB NOT NULL)",
    *(ddl for table in TABLES.values() for ddl in table.ddl),
)


def _words(tokens: list[str]) -> list[str]:
    return [t.upper() if t[:1].isalpha() or t[:1] == "_" else t for t in tokens]


def _top_level(tokens: list[str], start: int, word: str) -> int | None:
    """Index of ``word`` at parenthesis depth 0 from ``start``, or None."""
    depth = 0
    for i in range(start, len(tokens)):
        part = tokens[i]
        if part == "(":
            depth += 1
        elif part == ")":
            depth -= 1
        elif depth == 0 and part.upper() == word:
            return i
    return None


def _next_code(tokens: list[str], start: int) -> int:
    """Index of the first token at or after ``start`` that is not whitespace."""
    i = start
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i == len(tokens):
        raise FleetSqlError("statement ends too early")
    return i


@functools.lru_cache(maxsize=512)
def scope_sql(sql: str) -> str:
    """``sql`` over the instance schema, rewritten to touch only ``fleet_owner()``'s rows."""
    tokens = list(_TOKEN.findall(sql.strip().rstrip(";")))
    upper = _words(tokens)
    code = [i for i, t in enumerate(tokens) if not t.isspace()]
    if not code:
        raise FleetSqlError("empty statement")
    verb = upper[code[0]]
    owner = f"owner = {OWNER_FN}()"
    reads: list[str] = []
    target: int | None = None
    for n, i in enumerate(code[:-1]):
        nxt = code[n + 1]
        name = tokens[nxt].lower()
        names_table = upper[i] in (*_READS, "INTO") or (upper[i] == "UPDATE" and n == 0)
        if names_table and name not in TABLES and name != "(":
            # the fleet's own tables (every agent's rows) and anything else stay out of reach
            raise _refused(f"{name!r} is not a table of the instance schema", sql)
        if upper[i] in _READS and name != "(":
            if verb == "DELETE" and n == 1:
                target = nxt
            else:
                reads.append(name)
        elif upper[i] in ("INTO", "UPDATE") and names_table and target is None:
            target = nxt
    if verb == "SELECT":
        if target is not None:
            raise _refused("unsupported statement for a fleet store", sql)
    elif verb in ("UPDATE", "DELETE", "INSERT"):
        if target is None:
            raise _refused(f"{verb} of a table outside the instance schema", sql)
        name = tokens[target].lower()
        for word in ("RETURNING", "ORDER", "LIMIT", "SELECT"):
            if verb != "INSERT" and _top_level(tokens, target, word) is not None:
                raise _refused(f"{word} is not supported in a fleet {verb}", sql)
        tokens[target] = f"{PREFIX}{name} AS {name}"
        if verb == "INSERT":
            _scope_insert(tokens, target, sql)
        else:
            where = _top_level(tokens, target, "WHERE")
            if where is None:
                tokens.append(f" WHERE {owner}")
            else:
                tokens[where] = f"WHERE {owner} AND ("
                tokens.append(")")
    else:
        raise _refused("only SELECT, INSERT, UPDATE and DELETE run in a fleet", sql)
    ctes = [  # names from the instance schema only, never from input
        f"{t} AS (SELECT {', '.join(TABLES[t].columns)} FROM {PREFIX}{t} WHERE {owner} "  # noqa: S608
        f"ORDER BY {TABLES[t].order})"
        for t in dict.fromkeys(reads)
    ]
    body = "".join(tokens)
    return f"WITH {', '.join(ctes)} {body}" if ctes else body


def _scope_insert(tokens: list[str], target: int, sql: str) -> None:
    columns = _next_code(tokens, target + 1)
    if tokens[columns] != "(":
        raise _refused("a fleet INSERT names its columns", sql)
    values = _top_level(tokens, columns, "VALUES")
    if values is None or _top_level(tokens, columns, "SELECT") is not None:
        raise _refused("a fleet INSERT has one VALUES row", sql)
    row = _next_code(tokens, values + 1)
    conflict = _top_level(tokens, row, "CONFLICT")
    if conflict is not None:
        keys = _next_code(tokens, conflict + 1)
        if tokens[keys] == "(":
            tokens[keys] = "(owner, "
    tokens[columns] = "(owner, "
    tokens[row] = f"({OWNER_FN}(), "


@dataclass(frozen=True)
class _Fetched:
    """A statement's rows, fetched while the fleet's lock was held."""

    rows: list[Any]
    lastrowid: int | None
    rowcount: int

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return list(self.rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class FleetStore(Transactions):
    """One database for many agents: ``fleet.scope(udi, folder)`` is one agent's store.

    Thread-safe: one connection behind a re-entrant lock. ``batch()`` groups many agents'
    changes into one commit (used while a lab creates its fleet; a crash then loses the batch
    whole, never part of one agent's change).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / FLEET_DB
        fresh = not self.path.exists()
        self._lock = threading.RLock()
        self._depth = 0
        self._owner: int | None = None
        self.closed = False
        self.db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=256
        )
        if fresh:
            os.chmod(self.path, 0o600)  # it holds every instance's identity key
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.create_function(OWNER_FN, 0, self._current_owner, deterministic=True)
        with self.tx():
            for ddl in FLEET_SCHEMA:
                self.db.execute(ddl)

    def _current_owner(self) -> int:
        if self._owner is None:
            raise FleetSqlError("a fleet statement ran outside a scoped store")
        return self._owner

    def close(self) -> None:
        with self._lock:
            self.db.close()
            self.closed = True

    batch = Transactions.tx

    def run(self, owner: int, sql: str, params: tuple[Any, ...]) -> _Fetched:
        """Run one instance-schema statement as ``owner``; rows are fetched before unlocking."""
        scoped = scope_sql(sql)
        with self._lock:
            self._owner = owner
            try:
                cursor = self.db.execute(scoped, params)
                rows = cursor.fetchall()
                return _Fetched(rows, cursor.lastrowid, cursor.rowcount)
            finally:
                self._owner = None

    def owner(self, udi: str) -> int:
        """The owner key of ``udi`` (created on first use)."""
        with self.tx() as db:
            found = db.execute("SELECT id FROM fleet_owners WHERE udi = ?", (udi,)).fetchone()
            if found is not None:
                return int(found[0])
            cursor = db.execute("INSERT INTO fleet_owners (udi) VALUES (?)", (udi,))
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def read_key(self, owner: int) -> bytes | None:
        with self._lock:
            row = self.db.execute("SELECT raw FROM fleet_keys WHERE owner = ?", (owner,)).fetchone()
        return None if row is None else bytes(row[0])

    def write_key(self, owner: int, raw: bytes) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO fleet_keys (owner, raw) VALUES (?, ?) "
                "ON CONFLICT (owner) DO UPDATE SET raw = excluded.raw",
                (owner, raw),
            )

    def udis(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute("SELECT udi FROM fleet_owners ORDER BY id")]

    def scope(self, udi: str, folder: Path) -> ScopedStore:
        """The store of the agent ``udi``; ``folder`` holds its files (``flash:``, the shell's
        startup configuration), as the state folder does for a standalone instance."""
        return ScopedStore(self, self.owner(udi), udi, folder)


class ScopedStore(KeyValue):
    """One agent's view of a :class:`FleetStore`: the interface of
    :class:`~smartlic.instance.store.Store`, confined to the rows of one UDI."""

    def __init__(self, fleet: FleetStore, owner: int, udi: str, folder: Path) -> None:
        self.fleet = fleet
        self.owner = owner
        self.udi = udi
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        """The fleet owns the connection: closing one agent leaves the others running."""

    @contextlib.contextmanager
    def tx(self) -> Iterator[ScopedStore]:
        with self.fleet.tx():
            yield self

    def execute(self, sql: str, params: tuple[Any, ...] = (), /) -> _Fetched:
        return self.fleet.run(self.owner, sql, params)

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.execute(sql, params).rows

    def row(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        found: sqlite3.Row | None = self.execute(sql, params).fetchone()
        return found

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        found = self.row(sql, params)
        return None if found is None else found[0]

    # --- identity key: a row of the fleet database (mode 0600), not a file per agent ---------

    @property
    def key_path(self) -> Path:
        return self.fleet.path

    def read_key(self) -> bytes | None:
        return self.fleet.read_key(self.owner)

    def write_key(self, raw: bytes) -> None:
        self.fleet.write_key(self.owner, raw)
