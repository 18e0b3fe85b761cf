"""HTTP routes of the CSSM-compatible surface, at ``/v2/...`` and at the real API's prefix
``/services/api/smart-accounts-and-licensing/v2/...`` (so only the base URL changes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.accounts.service import AccountService, Caller
from smartlic.authority.api.common import (
    Problem,
    authenticate,
    authority_of,
    read_body,
    require_account,
    require_admin,
)
from smartlic.authority.cssm.service import CssmService
from smartlic.core import jsonio
from smartlic.core.errors import FormatError, NotFoundError

PREFIX = "/services/api/smart-accounts-and-licensing"
router = APIRouter(tags=["CSSM-compatible"])
CallerDep = Annotated[Caller, Depends(authenticate)]
TOKEN_LIFETIME = 3600


@router.post("/oauth/token")
@router.post("/as/token.oauth2", include_in_schema=False)
def oauth_token(
    request: Request,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str, Form()],
    client_secret: Annotated[str, Form()],
) -> dict[str, Any]:
    """OAuth2 client credentials: client id = API token id, client secret = the API token.

    The access token is the API token itself (it is already a bearer credential).
    """
    if grant_type != "client_credentials":
        raise Problem(400, "unsupported_grant_type", "only client_credentials", "MALFORMED")
    authority = authority_of(request)
    with authority.sessions() as s:
        caller = AccountService(authority).authenticate(s, client_secret)
    if caller is None or caller.token_id != client_id:
        raise Problem(401, "invalid_client", "unknown client id or secret", "UNAUTHORIZED")
    return {"access_token": client_secret, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME}


def _placement(request: Request, caller: Caller) -> tuple[str, str]:
    account_id = require_account(caller)
    authority = authority_of(request)
    sa = request.headers.get("x-csw-smart-account-id")
    va = request.headers.get("x-csw-virtual-account-id") or caller.home_va
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        account = repo.account()
        if sa is not None and sa not in (account.id, account.name):
            raise NotFoundError("no such smart account")
        if va is None:
            raise FormatError("X-CSW-VIRTUAL-ACCOUNT-ID is required")
        row = next((v for v in repo.vas() if va in (v.id, v.name)), None)
        if row is None or not caller.sees(row.id):
            raise NotFoundError("no such virtual account")
        return account_id, row.id


async def _data(request: Request) -> dict[str, Any]:
    body = jsonio.loads(await read_body(request, 8 * 1024 * 1024), what="request")
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise FormatError('the body must be {"data": {...}}')
    data: dict[str, Any] = body["data"]
    return data


def _routes(prefix: str, include: bool) -> None:
    @router.post(f"{prefix}/v2/accounts/search", include_in_schema=include)
    @router.get(f"{prefix}/v2/accounts/search", include_in_schema=False)
    def search(request: Request, caller: CallerDep) -> dict[str, Any]:
        account_id = require_account(caller)
        authority = authority_of(request)
        with authority.sessions() as s:
            repo = AccountRepository(s, account_id)
            account = repo.account()
            vas = [v for v in repo.vas() if caller.sees(v.id)]
            return {
                "status": "COMPLETE",
                "accounts": [
                    {
                        "name": account.name,
                        "domain": account.name,
                        "account_id": account.id,
                        "virtual_accounts": [
                            {"name": v.name, "virtual_account_id": v.id} for v in vas
                        ],
                    }
                ],
            }

    async def _submit(request: Request, caller: Caller, kind: str) -> dict[str, Any]:
        require_admin(caller)
        account_id, va_id = _placement(request, caller)
        data = await _data(request)
        service = CssmService(authority_of(request))
        poll_id = await run_in_threadpool(
            service.run, account_id, va_id, kind, data, f"cssm-api {caller.actor}"
        )
        return {"status": "OK_POLL", "poll_id": poll_id}

    @router.post(f"{prefix}/v2/devices/reportusage", include_in_schema=include)
    async def reportusage(request: Request, caller: CallerDep) -> dict[str, Any]:
        return await _submit(request, caller, "reportusage")

    @router.post(f"{prefix}/v2/devices/authrequest", include_in_schema=include)
    async def authrequest(request: Request, caller: CallerDep) -> dict[str, Any]:
        return await _submit(request, caller, "authrequest")

    @router.post(f"{prefix}/v2/accounts/poll", include_in_schema=include)
    async def poll(request: Request, caller: CallerDep) -> dict[str, Any]:
        account_id = require_account(caller)
        data = await _data(request)
        poll_id = data.get("poll_id")
        if not isinstance(poll_id, str):
            raise FormatError("data.poll_id is required")
        authority = authority_of(request)
        with authority.sessions() as s:
            return CssmService(authority).poll(s, account_id, poll_id)


_routes("", True)
_routes(PREFIX, False)
