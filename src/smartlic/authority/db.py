"""Engine, sessions and the declarative base shared by every domain's models.

Any SQLAlchemy URL works. SQLite gets WAL, ``foreign_keys=ON`` and ``synchronous=FULL`` on every
connection; PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://``). Keys are UUIDs
made in Python (``new_id``), so rows can be created anywhere and later distributed by account.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, MetaData, Select, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def new_id() -> str:
    return new_ids(1)[0]


def new_ids(count: int) -> list[str]:
    """``count`` time-ordered (version 7) UUIDs as text, from one read of the system's random
    source: 48 bits of Unix milliseconds, then 74 random bits.

    Time-ordered so that the rows one request inserts (a report each) land together at the
    right edge of every index keyed by id, rather than on as many random pages of an index of
    millions: fewer pages read and written per insert on either database (docs/adr/0014).
    """
    raw = bytearray(os.urandom(16 * count))
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    out = []
    for start in range(0, 16 * count, 16):
        raw[start : start + 6] = stamp
        raw[start + 6] = raw[start + 6] & 0x0F | 0x70
        raw[start + 8] = raw[start + 8] & 0x3F | 0x80
        h = raw[start : start + 16].hex()
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


def default_url(data: Path) -> str:
    return f"sqlite:///{(data / 'authority.db').resolve()}"


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (psycopg2 is not a dependency)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextlib.contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with sessions() as session, session.begin():
        yield session


def paged(
    session: Session, query: Select[Any], limit: int | None, offset: int = 0
) -> tuple[list[Any], int]:
    """One page of ``query``'s rows (``limit`` from ``offset``) and the total row count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page = query.offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return list(session.scalars(page)), int(total or 0)


def is_write_conflict(exc: BaseException) -> bool:
    """An integrity conflict (a concurrent insert of the same key) or SQLite's lock contention:
    the transaction was rolled back and running it again will see the other's rows."""
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        return "locked" in text or "busy" in text or "deadlock" in text
    return False


def retrying(sessions: sessionmaker[Session], work: Callable[[Session], T], attempts: int = 5) -> T:
    """Run ``work`` in one transaction; on a write conflict roll back and run it again."""
    for attempt in range(attempts):
        try:
            with transaction(sessions) as session:
                return work(session)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1 or not is_write_conflict(exc):
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")
