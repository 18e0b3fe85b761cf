"""Issued authorization codes (one license line per row)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.authority.db import Base, new_id


class IssuedCode(Base):
    __tablename__ = "authorization_codes"
    __table_args__ = (
        Index("uq_authorization_codes_account_code", "account_id", "code_id", unique=True),
        Index("ix_authorization_codes_account_va", "account_id", "va_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
    code_id: Mapped[str] = mapped_column(String(64))
    udi: Mapped[str] = mapped_column(String(100))
    license_name: Mapped[str] = mapped_column(String(64))
    entitlement_tag: Mapped[str] = mapped_column(String(200))
    enforcement: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)
    confirmation_code: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    returned_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    envelope: Mapped[str] = mapped_column(Text)
