"""Custom policy queries, scoped by account."""

from __future__ import annotations

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from smartlic.authority.policy.models import CustomPolicy


class PolicyRepository:
    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def add(self, row: CustomPolicy) -> None:
        self.session.add(row)

    def all(self, va_id: str | None = None) -> list[CustomPolicy]:
        query = select(CustomPolicy).where(CustomPolicy.account_id == self.account_id)
        if va_id is not None:
            query = query.where(CustomPolicy.va_id == va_id)
        return list(self.session.scalars(query.order_by(CustomPolicy.seq)))

    def next_seq(self) -> int:
        top = self.session.scalar(
            select(func.max(CustomPolicy.seq)).where(CustomPolicy.account_id == self.account_id)
        )
        return int(top or 0) + 1

    def newest(self, va_id: str | None) -> CustomPolicy | None:
        """The newest policy of the VA (``va_id``) or of the smart account itself (None)."""
        query = select(CustomPolicy).where(CustomPolicy.account_id == self.account_id)
        query = query.where(
            CustomPolicy.va_id.is_(None) if va_id is None else CustomPolicy.va_id == va_id
        )
        return self.session.scalar(query.order_by(CustomPolicy.seq.desc()).limit(1))

    def in_force(self, va_id: str) -> tuple[str, str | None, int] | None:
        """In one query: (id, va_id, created_at) of the newest policy of the VA, else of the
        newest of the smart account. Columns, not the ORM row: every ACK asks, and a policy row
        is never changed, so its caller keeps what it parsed by id (``get`` on a miss)."""
        row = self.session.execute(_IN_FORCE, {"account": self.account_id, "va": va_id}).first()
        return (row[0], row[1], row[2]) if row is not None else None

    def get(self, policy_id: str) -> CustomPolicy | None:
        row = self.session.get(CustomPolicy, policy_id)
        return row if row is not None and row.account_id == self.account_id else None


# Built once: every ACK asks for the policy in force, and building the statement cost more
# than running it (ADR 0010).
_IN_FORCE = (
    select(CustomPolicy.id, CustomPolicy.va_id, CustomPolicy.created_at)
    .where(
        CustomPolicy.account_id == bindparam("account"),
        or_(CustomPolicy.va_id == bindparam("va"), CustomPolicy.va_id.is_(None)),
    )
    .order_by(CustomPolicy.va_id.is_(None), CustomPolicy.seq.desc())
    .limit(1)
)
