"""Stored reports and ACKs, scoped by account.

The ingest path (``seen``, ``insert_reports``, ``stored_ack``, ``insert_ack``) uses Core
statements on the tables, not ORM objects: it runs for every request of every utility.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect

from smartlic.authority.accounts.models import AuditEntry
from smartlic.authority.db import Base, new_id
from smartlic.authority.usage.models import ReportTombstone, StoredAck, UsageReport

_REPORTS = Base.metadata.tables[UsageReport.__tablename__]
_TOMBS = Base.metadata.tables[ReportTombstone.__tablename__]
_ACKS = Base.metadata.tables[StoredAck.__tablename__]
_CHUNK = 500
"""Report ids per ``IN`` list (SQLite): well under its limit on bound parameters."""


def _seen(ids: Callable[[ColumnElement[int]], ColumnElement[bool]]) -> CompoundSelect[Any]:
    """Stored and buried reports of one UDI among some ids, ``ids`` saying how a column is
    matched against the ``ids`` parameter."""
    return union_all(
        select(_REPORTS.c.report_id, _REPORTS.c.digest, _REPORTS.c.trusted, literal(0)).where(
            _REPORTS.c.account_id == bindparam("account_id"),
            _REPORTS.c.va_id == bindparam("va_id"),
            _REPORTS.c.udi == bindparam("udi"),
            ids(_REPORTS.c.report_id),
        ),
        select(_TOMBS.c.report_id, _TOMBS.c.digest, _TOMBS.c.trusted, literal(1)).where(
            _TOMBS.c.account_id == bindparam("account_id"),
            _TOMBS.c.udi == bindparam("udi"),
            ids(_TOMBS.c.report_id),
        ),
    )


# Built once: building a statement costs about as much as running it on the ingest path.
_SEEN = _seen(lambda column: column.in_(bindparam("ids", expanding=True)))
# PostgreSQL: one array parameter whatever the batch size, so one statement whose plan the
# server keeps, rather than an ``IN`` list of 500 parameters parsed and planned per chunk.
_SEEN_ARRAY = _seen(lambda column: column == any_(bindparam("ids", type_=ARRAY(BigInteger))))
REPORT_COLUMNS = (
    "id",
    "account_id",
    "va_id",
    "instance_id",
    "udi",
    "report_id",
    "digest",
    "trusted",
    "license_name",
    "entitlement_tag",
    "count",
    "start_at",
    "end_at",
    "received_at",
    "envelope",
)
_COLUMN_LIST = ", ".join(REPORT_COLUMNS)
_STORED_ACK = select(_ACKS.c.envelope).where(
    _ACKS.c.account_id == bindparam("account_id"),
    _ACKS.c.va_id == bindparam("va_id"),
    _ACKS.c.udi == bindparam("udi"),
    _ACKS.c.ack_key == bindparam("ack_key"),
)
_INSERT_ACK = insert(_ACKS)
_INSERT_AUDIT = insert(Base.metadata.tables[AuditEntry.__tablename__])


def _copy_reports(connection: Connection, rows: list[tuple[object, ...]]) -> None:
    """``COPY ... FROM STDIN`` on the session's own psycopg connection (same transaction):
    the server parses no SQL per row, which halves its share of the work for large batches."""
    import psycopg

    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    statement = f"COPY usage_reports ({_COLUMN_LIST}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


class UsageRepository:
    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def seen(self, va_id: str, udi: str, report_ids: list[int]) -> dict[int, tuple[str, bool]]:
        """Report id → (digest, trusted) of the ids of ``udi`` already stored in this VA or
        buried with a removed instance (a stored report wins), in one statement per chunk."""
        out: dict[int, tuple[str, bool]] = {}
        buried: dict[int, tuple[str, bool]] = {}
        array = self.session.get_bind().dialect.name == "postgresql"
        statement, chunk = (_SEEN_ARRAY, len(report_ids) or 1) if array else (_SEEN, _CHUNK)
        for start in range(0, len(report_ids), chunk):
            params = {
                "account_id": self.account_id,
                "va_id": va_id,
                "udi": udi,
                "ids": report_ids[start : start + chunk],
            }
            for report_id, digest, trusted, is_tomb in self.session.execute(statement, params):
                (buried if is_tomb else out)[report_id] = (digest, bool(trusted))
        for report_id, found in buried.items():
            out.setdefault(report_id, found)
        return out

    def insert_reports(self, rows: list[tuple[object, ...]]) -> None:
        """Store reports (values in ``REPORT_COLUMNS`` order) in the bulk form of the database:
        ``COPY`` on PostgreSQL, one ``executemany`` elsewhere. The unique index refuses a
        concurrent duplicate (an ``IntegrityError`` either way) and the caller's transaction
        is run again."""
        if not rows:
            return
        connection = self.session.connection()
        if connection.dialect.name == "postgresql":
            _copy_reports(connection, rows)
        else:
            marks = ", ".join(
                "?" if connection.dialect.paramstyle == "qmark" else "%s" for _ in REPORT_COLUMNS
            )
            sql = f"INSERT INTO usage_reports ({_COLUMN_LIST}) VALUES ({marks})"  # noqa: S608
            connection.exec_driver_sql(sql, rows)  # constants only: no input in the SQL

    def stored_ack(self, va_id: str, udi: str, ack_key: str) -> str | None:
        """The envelope (JSON text) of the ACK already answered for this key, if any."""
        params = {"account_id": self.account_id, "va_id": va_id, "udi": udi, "ack_key": ack_key}
        found: str | None = self.session.execute(_STORED_ACK, params).scalar()
        return found

    def insert_ack(self, va_id: str, udi: str, ack_key: str, issued_at: int, envelope: str) -> None:
        row = {
            "id": new_id(),
            "account_id": self.account_id,
            "va_id": va_id,
            "udi": udi,
            "ack_key": ack_key,
            "issued_at": issued_at,
            "envelope": envelope,
        }
        self.session.execute(_INSERT_ACK, row)

    def audit_ingest(self, at: int, actor: str, subject: str, detail: str) -> None:
        """The ``usage.ingest`` row of ``audit.record``, as a Core insert: an ORM object would
        make the next query of the request flush a unit of work (about a millisecond)."""
        row = {
            "id": new_id(),
            "account_id": self.account_id,
            "at": at,
            "actor": actor[:200],
            "action": "usage.ingest",
            "outcome": "ok",
            "subject": subject[:300],
            "detail": detail,
        }
        self.session.execute(_INSERT_AUDIT, row)

    def bury(self, instance_id: str, now: int) -> int:
        """Keep a tombstone of every report of a product instance about to be removed."""
        rows = self.session.execute(
            select(
                UsageReport.udi, UsageReport.report_id, UsageReport.digest, UsageReport.trusted
            ).where(
                UsageReport.account_id == self.account_id,
                UsageReport.instance_id == instance_id,
            )
        ).all()
        for udi, report_id, digest, trusted in rows:
            self.session.add(
                ReportTombstone(
                    account_id=self.account_id,
                    udi=udi,
                    report_id=report_id,
                    digest=digest,
                    trusted=trusted,
                    removed_at=now,
                )
            )
        return len(rows)

    def count(self, va_id: str | None = None, udi: str | None = None) -> int:
        query = (
            select(func.count())
            .select_from(UsageReport)
            .where(UsageReport.account_id == self.account_id)
        )
        if va_id is not None:
            query = query.where(UsageReport.va_id == va_id)
        if udi is not None:
            query = query.where(UsageReport.udi == udi)
        return int(self.session.scalar(query) or 0)

    def latest_counts(
        self, va_id: str | None = None, instance_id: str | None = None
    ) -> dict[tuple[str, str], tuple[int, int]]:
        """(udi, license) → (end_at, count) of the newest report."""
        query = select(
            UsageReport.udi, UsageReport.license_name, UsageReport.end_at, UsageReport.count
        ).where(UsageReport.account_id == self.account_id)
        if va_id is not None:
            query = query.where(UsageReport.va_id == va_id)
        if instance_id is not None:
            query = query.where(UsageReport.instance_id == instance_id)
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for udi, license_name, end_at, count in self.session.execute(query):
            key = (udi, license_name)
            if key not in out or end_at >= out[key][0]:
                out[key] = (end_at, count)
        return out
