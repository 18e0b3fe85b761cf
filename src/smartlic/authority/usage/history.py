"""Licenses in use over time, per license, from the stored reports.

Each stored report holds the count of its newest measurement: the value ``compliance`` counts
as in use. A virtual account's total at a moment is the sum, over its instances, of the count
of each one's newest report of the license up to that moment, so a device that stops reporting
keeps counting (as it does on the Licenses page) until it reports something else. Times are
grouped in buckets so a long history never draws more than ``MAX_POINTS`` points per license.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from smartlic.authority.usage.models import UsageReport

MAX_POINTS = 400


@dataclass(frozen=True)
class Point:
    at: int
    count: int


@dataclass(frozen=True)
class Series:
    license_name: str
    points: tuple[Point, ...]

    @property
    def latest(self) -> int:
        return self.points[-1].count if self.points else 0


class UsageHistory:
    """Read-only, scoped by account like every repository of the authority."""

    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def instance(self, instance_id: str) -> list[Series]:
        return self._series(self._rows().where(UsageReport.instance_id == instance_id))

    def virtual_account(self, va_id: str) -> list[Series]:
        return self._series(self._rows().where(UsageReport.va_id == va_id))

    def _rows(self) -> Select[int, str, str, int]:
        return (
            select(
                UsageReport.end_at,
                UsageReport.instance_id,
                UsageReport.license_name,
                UsageReport.count,
            )
            .where(UsageReport.account_id == self.account_id)
            .order_by(UsageReport.end_at, UsageReport.received_at, UsageReport.report_id)
        )

    def _series(self, query: Select[int, str, str, int]) -> list[Series]:
        rows: list[tuple[int, str, str, int]] = [
            (end_at, instance_id, name, count)
            for end_at, instance_id, name, count in self.session.execute(query)
        ]
        if not rows:
            return []
        span = rows[-1][0] - rows[0][0]
        bucket = max(1, -(-span // (MAX_POINTS - 1))) if span else 1
        origin = rows[0][0]
        current: dict[tuple[str, str], int] = {}
        totals: dict[str, int] = {}
        points: dict[str, dict[int, Point]] = {}
        for end_at, instance_id, name, count in rows:
            key = (instance_id, name)
            totals[name] = totals.get(name, 0) - current.get(key, 0) + count
            current[key] = count
            slot = (end_at - origin) // bucket
            # Every license gets a point in every slot that moved any of them, so the lines
            # of a chart share their times and each step is drawn where it happened.
            for other, total in totals.items():
                points.setdefault(other, {})[slot] = Point(end_at, total)
        return [
            Series(name, tuple(points[name][slot] for slot in sorted(points[name])))
            for name in sorted(points)
        ]
