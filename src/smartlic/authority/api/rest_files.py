"""``/api/v1`` files and authorization codes: usage or trust request file → its answer file,
SLAC issue and return."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response as HttpResponse

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.api import schemas
from smartlic.authority.api.common import (
    EXTRA_STATUS,
    Problem,
    authority_of,
    read_body,
    require_account,
    require_admin,
)
from smartlic.authority.api.rest import (
    ERRORS,
    MAX_FILE,
    AuthorityDep,
    CallerDep,
    Limit,
    Offset,
    _instance_visible,
    _va,
)
from smartlic.authority.authorization.models import IssuedCode
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.db import transaction
from smartlic.authority.uploads.models import UploadStatus
from smartlic.authority.uploads.service import UploadService, result_of
from smartlic.core import xmlfile
from smartlic.core.artifacts import AuthorizationCode
from smartlic.core.envelope import Envelope
from smartlic.core.errors import FormatError
from smartlic.core.protocol import HTTP_STATUS
from smartlic.core.udi import Udi

router = APIRouter(prefix="/api/v1", tags=["api"])

# --- files and authorization codes ------------------------------------------------------------

USAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            "application/xml": {"schema": {"type": "string"}},
        },
    }
}
XML: dict[str, Any] = {"content": {"application/xml": {}}}
UPLOAD_ID_HEADER: dict[str, Any] = {
    "description": "The stored upload (GET /api/v1/uploads/{id}).",
    "schema": {"type": "string"},
}


@router.post(
    "/virtual-accounts/{va_id}/usage-files",
    openapi_extra=USAGE_BODY,
    responses={
        200: {
            "content": {"application/gzip": {}, "application/xml": {}},
            "headers": {"X-Upload-Id": UPLOAD_ID_HEADER},
        },
        **ERRORS,
    },
    response_class=HttpResponse,
)
async def upload_usage(
    va_id: str,
    request: Request,
    caller: CallerDep,
    file_name: Annotated[
        str | None,
        Query(max_length=200, description="The uploaded file's name (names the answer file)."),
    ] = None,
) -> HttpResponse:
    """Upload Usage Data: a usage file or a trust request file in, its answer file out.

    The kind is recognised from the bytes. A utility's tar.gz usage bundle gets an ACK bundle
    (``application/gzip``); a product instance's ``license smart save usage`` file gets a
    ``<smartLicense>`` ACK file (the key-set chain, then one ACK per UDI); its ``license smart
    save trust-request`` file gets a ``<smartLicense>`` trust-code file (the key-set chain, one
    trust code per request, the policy) for ``license smart import``. No ID token is needed:
    the caller's scope in this virtual account vouches for the requests. Every upload is
    stored (``GET /api/v1/uploads/{X-Upload-Id}``); the same file again gets the same answer.
    """
    account_id = require_admin(caller)
    authority = authority_of(request)
    data = await read_body(request, MAX_FILE)

    def check_scope() -> None:
        with authority.sessions() as s:
            _va(AccountRepository(s, account_id), caller, va_id)

    await run_in_threadpool(check_scope)
    row = await run_in_threadpool(
        UploadService(authority).submit,
        account_id,
        va_id,
        data,
        actor=caller.actor,
        file_name=file_name,
    )
    headers = {"X-Upload-Id": row.id}
    if row.status != UploadStatus.PROCESSED:
        code = row.error_code or "ERROR"
        raise Problem(
            HTTP_STATUS.get(code, EXTRA_STATUS.get(code, 500)),
            "Upload refused",
            row.error or "the upload failed",
            code,
            headers=headers,
        )
    body, name, media_type = result_of(row)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return HttpResponse(body, media_type=media_type, headers=headers)


def _slac_info(row: IssuedCode) -> schemas.SlacInfo:
    return schemas.SlacInfo(
        code_id=row.code_id,
        va_id=row.va_id,
        udi=row.udi,
        license_name=row.license_name,
        count=row.count,
        issued_at=row.issued_at,
        returned_at=row.returned_at,
    )


@router.get("/authorization-codes", responses=ERRORS)
def list_slacs(
    caller: CallerDep,
    authority: AuthorityDep,
    va_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> schemas.Page[schemas.SlacInfo]:
    """Authorization codes issued in the smart account (or one VA), oldest first."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        if va_id is not None:
            _va(AccountRepository(s, account_id), caller, va_id)
        rows, total = CodeRepository(s, account_id).page(
            va_id, limit=limit, offset=offset, va_ids=caller.va_ids
        )
        return schemas.Page[schemas.SlacInfo](
            items=[_slac_info(r) for r in rows], total=total, limit=limit, offset=offset
        )


@router.get(
    "/authorization-codes/{code_id}/file",
    responses={200: XML, **ERRORS},
    response_class=HttpResponse,
)
def slac_file(code_id: str, caller: CallerDep, authority: AuthorityDep) -> HttpResponse:
    """The authorization-code file (``<smartLicense>`` XML) to import on the instance."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        row = CodeRepository(s, account_id).get(code_id)
        _instance_visible(caller, row.va_id)
        envelope = Envelope.parse(row.envelope)
    return HttpResponse(
        xmlfile.write([envelope]),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="SLAC_{row.code_id}.xml"'},
    )


@router.post("/virtual-accounts/{va_id}/authorization-codes", status_code=201, responses=ERRORS)
def create_slac(
    va_id: str, body: schemas.SlacIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.SlacOut:
    account_id = require_admin(caller)
    udi = Udi.parse(body.udi)
    with transaction(authority.sessions) as s:
        _va(AccountRepository(s, account_id), caller, va_id)
        envelope = AuthorizationService(authority).issue(
            s, account_id, va_id, udi, body.license_name, body.count, actor=caller.actor
        )
    code = AuthorizationCode.from_json(envelope.payload_json())
    return schemas.SlacOut(
        code_id=code.code_id,
        confirmation_code=code.confirmation_code,
        udi=str(udi),
        license_name=code.licenses[0].license_name,
        count=code.licenses[0].count,
        file=xmlfile.write([envelope]).decode(),
    )


RETURN_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/xml": {"schema": {"type": "string"}}},
    }
}


def parse_return_code(data: bytes) -> Envelope:
    """A return code as its ``<smartLicense>`` file or as the bare envelope JSON."""
    text = data.strip()
    if text.startswith(b"<"):
        envelopes = xmlfile.read(text)
        if len(envelopes) != 1:
            raise FormatError("the return-code file must hold exactly one return code")
        return envelopes[0]
    return Envelope.parse(text)


@router.post("/authorization-codes/return", openapi_extra=RETURN_BODY, responses=ERRORS)
async def return_slac(request: Request, caller: CallerDep) -> schemas.ReturnOut:
    account_id = require_admin(caller)
    authority = authority_of(request)
    envelope = parse_return_code(await read_body(request, 1024 * 1024))

    def work() -> schemas.ReturnOut:
        with transaction(authority.sessions) as s:
            row = AuthorizationService(authority).give_back(
                s, account_id, envelope, actor=caller.actor
            )
            _instance_visible(caller, row.va_id)
            return schemas.ReturnOut(
                code_id=row.code_id,
                udi=row.udi,
                license_name=row.license_name,
                count=row.count,
                returned_at=row.returned_at or 0,
            )

    return await run_in_threadpool(work)
