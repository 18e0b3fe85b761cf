"""Custom policies, stored as the JSON of ``core.policy.CustomPolicySpec``."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.authority.db import Base, new_id


class CustomPolicy(Base):
    __tablename__ = "custom_policies"
    __table_args__ = (Index("ix_custom_policies_account_va", "account_id", "va_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(128))
    serial: Mapped[int] = mapped_column(BigInteger)
    spec: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer, default=0)
