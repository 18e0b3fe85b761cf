"""Product-instance queries, scoped by account (``placements`` finds where a UDI lives)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.authority.db import paged
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
        self,
        va_id: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        va_ids: Collection[str] | None = None,
    ) -> tuple[list[ProductInstance], int]:
        """One page of instances (by UDI) of a VA, of some VAs, or of all, and the total."""
        query = select(ProductInstance).where(ProductInstance.account_id == self.account_id)
        if va_id is not None:
            query = query.where(ProductInstance.va_id == va_id)
        if va_ids is not None:
            query = query.where(ProductInstance.va_id.in_(sorted(va_ids)))
        query = query.order_by(ProductInstance.udi, ProductInstance.id)
        return paged(self.session, query, limit, offset)

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
