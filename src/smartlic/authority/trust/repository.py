"""Product-instance queries, scoped by account (``placements`` finds where a UDI lives)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.authority.trust.models import ProductInstance
from smartlic.core.errors import NotFoundError


def placements(session: Session, udi: str) -> list[ProductInstance]:
    """Every registration of ``udi`` (in any account): used only to place or refuse it."""
    return list(session.scalars(select(ProductInstance).where(ProductInstance.udi == udi)))


class InstanceRepository:
    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def add(self, row: ProductInstance) -> None:
        self.session.add(row)

    def all(
        self, va_id: str | None = None, *, limit: int | None = None, offset: int = 0
    ) -> list[ProductInstance]:
        query = select(ProductInstance).where(ProductInstance.account_id == self.account_id)
        if va_id is not None:
            query = query.where(ProductInstance.va_id == va_id)
        query = query.order_by(ProductInstance.udi, ProductInstance.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return list(self.session.scalars(query))

    def get(self, instance_id: str) -> ProductInstance:
        row = self.session.scalar(
            select(ProductInstance).where(
                ProductInstance.account_id == self.account_id, ProductInstance.id == instance_id
            )
        )
        if row is None:
            raise NotFoundError("no such product instance in this smart account")
        return row

    def by_udi(self, udi: str, *, lock: bool = False) -> ProductInstance | None:
        query = select(ProductInstance).where(
            ProductInstance.account_id == self.account_id, ProductInstance.udi == udi
        )
        if lock:
            query = query.with_for_update()
        return self.session.scalar(query)

    def remove(self, instance_id: str) -> ProductInstance:
        row = self.get(instance_id)
        self.session.delete(row)
        return row
