"""Stored RUM reports (once per VA, UDI and report id) and the ACKs sent for them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.authority.db import Base, new_id


class UsageReport(Base):
    __tablename__ = "usage_reports"
    __table_args__ = (
        Index(
            "uq_usage_reports_account_va_udi_report",
            "account_id",
            "va_id",
            "udi",
            "report_id",
            unique=True,
        ),
        Index("ix_usage_reports_account_instance", "account_id", "instance_id"),
        # One key to the instance, which is in its account and VA (ADR 0013): a report can
        # only name the account and VA its instance is in, and the database checks one parent
        # row per report, the instance row the ingesting transaction has just written, rather
        # than also locking the account and VA rows every concurrent ingest shares.
        ForeignKeyConstraint(
            ["account_id", "va_id", "instance_id"],
            [
                "product_instances.account_id",
                "product_instances.va_id",
                "product_instances.id",
            ],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(36))
    va_id: Mapped[str] = mapped_column(String(36))
    instance_id: Mapped[str] = mapped_column(String(36))
    udi: Mapped[str] = mapped_column(String(100))
    report_id: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    trusted: Mapped[bool] = mapped_column(Boolean)
    license_name: Mapped[str] = mapped_column(String(200))
    entitlement_tag: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[int] = mapped_column(BigInteger)
    end_at: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[int] = mapped_column(BigInteger)
    envelope: Mapped[str] = mapped_column(Text)


class StoredAck(Base):
    """The ACK answered for one set of reports: a re-send gets the very same bytes back."""

    __tablename__ = "acks"
    __table_args__ = (
        Index("uq_acks_account_va_udi_key", "account_id", "va_id", "udi", "ack_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
    udi: Mapped[str] = mapped_column(String(100))
    ack_key: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    envelope: Mapped[str] = mapped_column(Text)


class ReportTombstone(Base):
    """Report ids of removed product instances: removal never makes an old id acceptable again.

    Kept per (account, UDI, report id) with the digest, so an identical re-send is acknowledged
    (never stored or counted again) and a different report under the id is ``REPLAY``.
    """

    __tablename__ = "report_tombstones"
    __table_args__ = (
        Index(
            "uq_report_tombstones_account_udi_report", "account_id", "udi", "report_id", unique=True
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    udi: Mapped[str] = mapped_column(String(100))
    report_id: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    trusted: Mapped[bool] = mapped_column(Boolean)
    removed_at: Mapped[int] = mapped_column(BigInteger)
