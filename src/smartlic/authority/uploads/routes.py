"""``/api/v1/uploads``: the stored uploads of the caller's virtual accounts, their status and
their answer file. The upload itself is ``POST /api/v1/virtual-accounts/{va_id}/usage-files``
(``api/rest_files.py``), which takes every kind of file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response as HttpResponse
from pydantic import BaseModel

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.api import schemas
from smartlic.authority.api.common import require_account
from smartlic.authority.api.rest import ERRORS, AuthorityDep, CallerDep, Limit, Offset, _va
from smartlic.authority.uploads.models import Upload
from smartlic.authority.uploads.repository import UploadRepository
from smartlic.authority.uploads.service import result_of
from smartlic.core.errors import NotFoundError

router = APIRouter(prefix="/api/v1", tags=["api"])


class UploadOut(BaseModel):
    id: str
    va_id: str
    file_name: str
    size: int
    digest: str
    kind: str
    status: str
    uploaded_by: str
    uploaded_at: int
    processed_at: int | None
    error_code: str | None
    error: str | None
    result_name: str | None
    result_url: str | None


def upload_out(row: Upload) -> UploadOut:
    return UploadOut(
        id=row.id,
        va_id=row.va_id,
        file_name=row.file_name,
        size=row.size,
        digest=row.digest,
        kind=row.kind,
        status=row.status,
        uploaded_by=row.actor,
        uploaded_at=row.uploaded_at,
        processed_at=row.processed_at,
        error_code=row.error_code,
        error=row.error,
        result_name=row.result_name,
        result_url=f"/api/v1/uploads/{row.id}/result" if row.result_name else None,
    )


@router.get("/uploads", responses=ERRORS)
def list_uploads(
    caller: CallerDep,
    authority: AuthorityDep,
    va_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> schemas.Page[UploadOut]:
    """Files uploaded to the smart account (or one VA), newest first."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        if va_id is not None:
            _va(AccountRepository(s, account_id), caller, va_id)
        rows, total = UploadRepository(s, account_id).page(
            va_id, limit=limit, offset=offset, va_ids=caller.va_ids
        )
        return schemas.Page[UploadOut](
            items=[upload_out(r) for r in rows], total=total, limit=limit, offset=offset
        )


def _visible(caller_sees: bool) -> None:
    if not caller_sees:
        raise NotFoundError("no such upload in this smart account")


@router.get("/uploads/{upload_id}", responses=ERRORS)
def show_upload(upload_id: str, caller: CallerDep, authority: AuthorityDep) -> UploadOut:
    """One upload: its kind, status, and the error of a failed one."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        row = UploadRepository(s, account_id).get(upload_id)
        _visible(caller.sees(row.va_id))
        return upload_out(row)


@router.get(
    "/uploads/{upload_id}/result",
    responses={
        200: {"content": {"application/xml": {}, "application/gzip": {}}},
        **ERRORS,
    },
    response_class=HttpResponse,
)
def upload_result(upload_id: str, caller: CallerDep, authority: AuthorityDep) -> HttpResponse:
    """The answer of a processed upload: the ACK file, or the trust-code file (409 otherwise)."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        row = UploadRepository(s, account_id).get(upload_id)
        _visible(caller.sees(row.va_id))
        data, name, media_type = result_of(row)
    return HttpResponse(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
