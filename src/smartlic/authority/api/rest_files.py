"""``/api/v1`` files and authorization codes: usage file → ACK file, SLAC issue and return."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response as HttpResponse

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.api import schemas
from smartlic.authority.api.common import authority_of, read_body, require_admin
from smartlic.authority.api.rest import (
    ERRORS,
    MAX_FILE,
    AuthorityDep,
    CallerDep,
    _instance_visible,
    _va,
)
from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.db import transaction
from smartlic.authority.usage.service import UsageService
from smartlic.core import xmlfile
from smartlic.core.artifacts import AuthorizationCode
from smartlic.core.envelope import Envelope
from smartlic.core.errors import FormatError
from smartlic.core.udi import Udi

router = APIRouter(prefix="/api/v1", tags=["api"])

# --- files and authorization codes ------------------------------------------------------------

GZIP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/virtual-accounts/{va_id}/usage-files",
    openapi_extra=GZIP_BODY,
    responses={200: {"content": {"application/gzip": {}}}, **ERRORS},
    response_class=HttpResponse,
)
async def upload_usage(va_id: str, request: Request, caller: CallerDep) -> HttpResponse:
    account_id = require_admin(caller)
    authority = authority_of(request)
    data = await read_body(request, MAX_FILE)

    def work() -> bytes:
        with transaction(authority.sessions) as s:
            _va(AccountRepository(s, account_id), caller, va_id)
            return UsageService(authority).upload_file(
                s, account_id, va_id, data, actor=f"api {caller.token_id}"
            )

    ack_file = await run_in_threadpool(work)
    return HttpResponse(
        ack_file,
        media_type="application/gzip",
        headers={"Content-Disposition": 'attachment; filename="ACK_usage.tar.gz"'},
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
            s, account_id, va_id, udi, body.license_name, body.count, actor=f"api {caller.token_id}"
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
                s, account_id, envelope, actor=f"api {caller.token_id}"
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
