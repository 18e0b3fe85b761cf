"""Upload queries, always inside one smart account (another account's upload is not found)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from smartlic.authority.db import paged
from smartlic.authority.uploads.models import Upload
from smartlic.core.errors import NotFoundError


class UploadRepository:
    def __init__(self, session: Session, account_id: str) -> None:
        self.session = session
        self.account_id = account_id

    def add(self, row: Upload) -> None:
        self.session.add(row)

    def get(self, upload_id: str, *, lock: bool = False) -> Upload:
        query = select(Upload).where(Upload.account_id == self.account_id, Upload.id == upload_id)
        if lock:
            query = query.with_for_update()
        row = self.session.scalar(query)
        if row is None:
            raise NotFoundError("no such upload in this smart account")
        return row

    def by_digest(self, va_id: str, digest: str, *, lock: bool = False) -> Upload | None:
        query = select(Upload).where(
            Upload.account_id == self.account_id, Upload.va_id == va_id, Upload.digest == digest
        )
        if lock:
            query = query.with_for_update()
        return self.session.scalar(query)

    def page(
        self,
        va_id: str | None = None,
        *,
        limit: int | None = 100,
        offset: int = 0,
        va_ids: Collection[str] | None = None,
    ) -> tuple[list[Upload], int]:
        """Newest first, without the result bytes (a list never needs them)."""
        query = (
            select(Upload).options(defer(Upload.result)).where(Upload.account_id == self.account_id)
        )
        if va_id is not None:
            query = query.where(Upload.va_id == va_id)
        if va_ids is not None:
            query = query.where(Upload.va_id.in_(sorted(va_ids)))
        query = query.order_by(Upload.uploaded_at.desc(), Upload.id)
        return paged(self.session, query, limit, offset)
