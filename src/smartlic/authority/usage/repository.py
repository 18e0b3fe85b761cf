"""Stored reports and ACKs, scoped by account."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartlic.authority.usage.models import ReportTombstone, StoredAck, UsageReport


class UsageRepository:
    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def add(self, row: UsageReport | StoredAck) -> None:
        self.session.add(row)

    def stored(self, va_id: str, udi: str, report_ids: list[int]) -> dict[int, UsageReport]:
        out: dict[int, UsageReport] = {}
        for start in range(0, len(report_ids), 500):
            chunk = report_ids[start : start + 500]
            rows = self.session.scalars(
                select(UsageReport).where(
                    UsageReport.account_id == self.account_id,
                    UsageReport.va_id == va_id,
                    UsageReport.udi == udi,
                    UsageReport.report_id.in_(chunk),
                )
            )
            out.update({row.report_id: row for row in rows})
        return out

    def tombstones(self, udi: str, report_ids: list[int]) -> dict[int, ReportTombstone]:
        """Report ids of ``udi`` that belonged to a removed product instance."""
        out: dict[int, ReportTombstone] = {}
        for start in range(0, len(report_ids), 500):
            chunk = report_ids[start : start + 500]
            rows = self.session.scalars(
                select(ReportTombstone).where(
                    ReportTombstone.account_id == self.account_id,
                    ReportTombstone.udi == udi,
                    ReportTombstone.report_id.in_(chunk),
                )
            )
            out.update({row.report_id: row for row in rows})
        return out

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

    def ack(self, va_id: str, udi: str, ack_key: str) -> StoredAck | None:
        return self.session.scalar(
            select(StoredAck).where(
                StoredAck.account_id == self.account_id,
                StoredAck.va_id == va_id,
                StoredAck.udi == udi,
                StoredAck.ack_key == ack_key,
            )
        )

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
