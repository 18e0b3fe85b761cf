"""Portal Reports page (CSSM: Reports): Usage Data Files — upload a usage or trust request
file, see recent uploads with their status and download their answers — the policy file of a
virtual account, authorization codes (generate, download, return). Same sessions, CSRF and
error pages as the rest of the portal (``portal/routes.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse

from smartlic.authority.accounts.service import Caller
from smartlic.authority.api.rest_files import parse_return_code
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.db import transaction
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.portal.routes import (
    PAGE,
    Refused,
    Upload,
    _account,
    _authority,
    _caller,
    _download,
    _form,
    _render,
    _va_of,
    _writer,
)
from smartlic.authority.uploads.models import UploadStatus
from smartlic.authority.uploads.repository import UploadRepository
from smartlic.authority.uploads.service import UploadService, result_of
from smartlic.core import xmlfile
from smartlic.core.artifacts import AuthorizationCode
from smartlic.core.envelope import Envelope
from smartlic.core.errors import NotFoundError
from smartlic.core.udi import Udi

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("/reports")
def reports(request: Request) -> HTMLResponse:
    caller = _caller(request)
    return _render(request, "reports.html", caller, result=None, **_reports_lists(request, caller))


def _reports_lists(request: Request, caller: Caller) -> dict[str, Any]:
    """The Reports page's tables: recent uploads (status, answer) and authorization codes."""
    authority = _authority(request)
    with authority.sessions() as s:
        codes, _ = CodeRepository(s, _account(caller)).page(
            None, limit=100, offset=0, va_ids=caller.va_ids
        )
        uploads, _ = UploadRepository(s, _account(caller)).page(
            None, limit=PAGE, offset=0, va_ids=caller.va_ids
        )
    return {
        "codes": codes,
        "uploads": uploads,
        "kind_labels": UPLOAD_KINDS,
        "status_labels": UPLOAD_STATUSES,
    }


UPLOAD_KINDS = {
    "usage-bundle": "Usage file (utility)",
    "usage-xml": "Usage file (product instance)",
    "trust-request": "Trust request file",
    "unknown": "Not recognised",
}
UPLOAD_STATUSES = {
    "received": "Received",
    "processing": "Processing",
    "processed": "Processed",
    "failed": "Failed",
}


@router.post("/reports/usage")
async def upload_usage(request: Request) -> HttpResponse:
    """Upload Usage Data: the answer downloads at once; the upload stays listed with it."""
    form = await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    va_id = _va_of(request, caller, str(form.get("va", "")))
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise Refused(
            "Choose the file to upload: a usage file (.tar.gz or .xml) or a trust request file."
        )
    row = await run_in_threadpool(
        UploadService(_authority(request)).submit,
        account_id,
        va_id,
        upload.data,
        actor=caller.actor,
        file_name=upload.filename,
    )
    if row.status != UploadStatus.PROCESSED:
        raise Refused(
            f"The upload of {row.file_name} failed: {row.error}. It is listed under Recent "
            "uploads; fix the file and upload it again.",
            404 if row.error_code == "NOT_FOUND" else 409,
        )
    return _download(*result_of(row))


@router.get("/reports/uploads/{upload_id}/file")
def upload_file(request: Request, upload_id: str) -> HttpResponse:
    caller = _caller(request)
    authority = _authority(request)
    with authority.sessions() as s:
        row = UploadRepository(s, _account(caller)).get(upload_id)
        if not caller.sees(row.va_id):
            raise NotFoundError("no such upload in this smart account")
        return _download(*result_of(row))


@router.get("/reports/policy-file")
def policy_file(request: Request, va: str = "") -> HttpResponse:
    caller = _caller(request)
    va_id = _va_of(request, caller, va)
    authority = _authority(request)
    with authority.sessions() as s:
        _, envelope = PolicyService(authority).grant(s, _account(caller), va_id, None)
    return _download(xmlfile.write([envelope]), "policy.xml", "application/xml")


@router.post("/reports/codes")
async def create_code(request: Request) -> HTMLResponse:
    form = await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    va_id = _va_of(request, caller, str(form.get("va", "")))
    try:
        count = int(str(form.get("count") or 1))
    except ValueError:
        raise Refused("The count must be a whole number, e.g. 1.") from None
    udi = Udi.parse(str(form.get("udi", "")).strip())
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        envelope = AuthorizationService(authority).issue(
            s, account_id, va_id, udi, str(form.get("license", "")).strip(), count,
            actor=caller.actor,
        )  # fmt: skip
    code = AuthorizationCode.from_json(envelope.payload_json())
    lists = _reports_lists(request, caller)
    return _render(request, "reports.html", caller, result={"code": code, "udi": udi}, **lists)


@router.get("/reports/codes/{code_id}/file")
def code_file(request: Request, code_id: str) -> HttpResponse:
    caller = _caller(request)
    authority = _authority(request)
    with authority.sessions() as s:
        row = CodeRepository(s, _account(caller)).get(code_id)
        if not caller.sees(row.va_id):
            raise NotFoundError("no such authorization code in this smart account")
        envelope = Envelope.parse(row.envelope)
    return _download(xmlfile.write([envelope]), f"SLAC_{row.code_id}.xml", "application/xml")


@router.post("/reports/return")
async def return_code(request: Request) -> HttpResponse:
    form = await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    envelope = parse_return_code(str(form.get("return_code", "")).encode())
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        row = AuthorizationService(authority).give_back(s, account_id, envelope, actor=caller.actor)
        if not caller.sees(row.va_id):
            raise NotFoundError("no such authorization code in this smart account")
        code_id = row.code_id
    return RedirectResponse(f"/portal/events?q={code_id}", status_code=303)
