"""Authorization-code queries, scoped by account."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from smartlic.authority.authorization.models import IssuedCode
from smartlic.authority.db import paged
from smartlic.core.errors import NotFoundError


class CodeRepository:
    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def add(self, row: IssuedCode) -> None:
        self.session.add(row)

    def get(self, code_id: str, *, lock: bool = False) -> IssuedCode:
        query = select(IssuedCode).where(
            IssuedCode.account_id == self.account_id, IssuedCode.code_id == code_id
        )
        if lock:
            query = query.with_for_update()
        row = self.session.scalar(query)
        if row is None:
            raise NotFoundError("no such authorization code in this smart account")
        return row

    def active_for_udi(self, udi: str, license_name: str | None = None) -> list[IssuedCode]:
        """The codes of ``udi`` not returned, oldest first (of one license if named), by one
        statement built once: every ACK asks. A UDI has a handful of codes, so the license
        is picked here rather than by a second statement."""
        rows = self.session.scalars(_ACTIVE_FOR_UDI, {"account": self.account_id, "udi": udi})
        return [r for r in rows if license_name is None or r.license_name == license_name]

    def active_for_udis(self, udis: list[str]) -> dict[str, list[IssuedCode]]:
        """``active_for_udi`` for many UDIs at once (a usage file's), in a few statements."""
        out: dict[str, list[IssuedCode]] = {}
        for start in range(0, len(udis), 500):
            query = select(IssuedCode).where(
                IssuedCode.account_id == self.account_id,
                IssuedCode.udi.in_(udis[start : start + 500]),
                IssuedCode.returned_at.is_(None),
            )
            for row in self.session.scalars(query.order_by(IssuedCode.issued_at)):
                out.setdefault(row.udi, []).append(row)
        return out

    def issued_count(self, va_id: str, license_name: str) -> int:
        total = self.session.scalar(
            select(func.coalesce(func.sum(IssuedCode.count), 0)).where(
                IssuedCode.account_id == self.account_id,
                IssuedCode.va_id == va_id,
                IssuedCode.license_name == license_name,
                IssuedCode.returned_at.is_(None),
            )
        )
        return int(total or 0)

    def page(
        self,
        va_id: str | None = None,
        *,
        limit: int,
        offset: int = 0,
        va_ids: Collection[str] | None = None,
        udi: str | None = None,
    ) -> tuple[list[IssuedCode], int]:
        query = select(IssuedCode).where(IssuedCode.account_id == self.account_id)
        if va_id is not None:
            query = query.where(IssuedCode.va_id == va_id)
        if udi is not None:
            query = query.where(IssuedCode.udi == udi)
        if va_ids is not None:
            query = query.where(IssuedCode.va_id.in_(sorted(va_ids)))
        return paged(
            self.session, query.order_by(IssuedCode.issued_at, IssuedCode.id), limit, offset
        )

    def all(self, va_id: str | None = None) -> list[IssuedCode]:
        query = select(IssuedCode).where(IssuedCode.account_id == self.account_id)
        if va_id is not None:
            query = query.where(IssuedCode.va_id == va_id)
        return list(self.session.scalars(query.order_by(IssuedCode.issued_at)))


_ACTIVE_FOR_UDI = (
    select(IssuedCode)
    .where(
        IssuedCode.account_id == bindparam("account"),
        IssuedCode.udi == bindparam("udi"),
        IssuedCode.returned_at.is_(None),
    )
    .order_by(IssuedCode.issued_at)
)
