"""Account-side tables. Every unique key includes ``account_id`` (distribution by account)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.authority.db import Base, new_id


class SmartAccount(Base):
    __tablename__ = "smart_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class VirtualAccount(Base):
    __tablename__ = "virtual_accounts"
    __table_args__ = (
        Index("uq_virtual_accounts_account_name", "account_id", "name", unique=True),
        Index("uq_virtual_accounts_account_tenant", "account_id", "tenant_id", unique=True),
        Index("ix_virtual_accounts_tenant", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str] = mapped_column(String(64))
    allow_export: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Purchase(Base):
    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_account_va", "account_id", "va_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
    license_name: Mapped[str] = mapped_column(String(64))
    entitlement_tag: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[int] = mapped_column(BigInteger)
    end_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class IdToken(Base):
    __tablename__ = "id_tokens"
    __table_args__ = (
        Index("uq_id_tokens_account_hash", "account_id", "token_hash", unique=True),
        Index("ix_id_tokens_hash", "token_hash"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    allow_export: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ApiToken(Base):
    """Bearer tokens for utilities, scripts and the REST API. ``account_id`` NULL = operator."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_hash", "token_hash", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("smart_accounts.id", ondelete="CASCADE"), nullable=True
    )
    va_id: Mapped[str | None] = mapped_column(
        ForeignKey("virtual_accounts.id", ondelete="CASCADE"), nullable=True
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    """Set for a login session token: the token acts as this user (role, virtual accounts)."""
    expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_account_at", "account_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    """A person who logs in (``POST /api/v1/login``). Password: scrypt with a per-user salt."""

    __tablename__ = "users"
    __table_args__ = (Index("uq_users_account_username", "account_id", "username", unique=True),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    disabled_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UserVirtualAccount(Base):
    """The virtual accounts a ``va-user`` may see and change."""

    __tablename__ = "user_virtual_accounts"
    __table_args__ = (
        Index(
            "uq_user_virtual_accounts_account_user_va",
            "account_id",
            "user_id",
            "va_id",
            unique=True,
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
