"""One row per file uploaded to a virtual account: who, when, what, how it went, the answer."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartlic.authority.db import Base, new_id


class UploadStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"


class UploadKind(StrEnum):
    USAGE_BUNDLE = "usage-bundle"
    """A utility's tar.gz usage file ("Download All For Cisco")."""
    USAGE_XML = "usage-xml"
    """A product instance's ``license smart save usage`` file."""
    TRUST_REQUEST = "trust-request"
    """A product instance's ``license smart save trust-request`` file."""
    UNKNOWN = "unknown"
    """Not recognised: kept so the refusal shows in the list."""


class Upload(Base):
    """Unique per (account, VA, SHA-256 of the bytes): the same file again is the same upload,
    so a re-upload returns the stored answer and nothing is counted or issued twice."""

    __tablename__ = "uploads"
    __table_args__ = (
        Index("uq_uploads_account_va_digest", "account_id", "va_id", "digest", unique=True),
        Index("ix_uploads_account_uploaded", "account_id", "uploaded_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("smart_accounts.id", ondelete="CASCADE"))
    va_id: Mapped[str] = mapped_column(ForeignKey("virtual_accounts.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    uploaded_at: Mapped[int] = mapped_column(BigInteger)
    processed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    result_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
