"""Product instances: one row per (account, UDI), placed in one virtual account."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.authority.db import Base, new_id


class ProductInstance(Base):
    __tablename__ = "product_instances"
    __table_args__ = (
        Index("uq_product_instances_account_udi", "account_id", "udi", unique=True),
        Index("ix_product_instances_udi", "udi"),
        # The key a stored report names its instance by, with the account and VA it is in.
        UniqueConstraint("account_id", "va_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
    udi: Mapped[str] = mapped_column(String(100))
    hostname: Mapped[str | None] = mapped_column(String(200), nullable=True)
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_report: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    trust_serial: Mapped[int] = mapped_column(Integer, default=0)
    trust_issued_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    allow_export: Mapped[bool] = mapped_column(Boolean, default=False)
