"""Shared HTTP pieces: problem+json errors, bounded body reading, bearer authentication."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from smartlic.authority.accounts.service import AccountService, Caller
from smartlic.authority.context import Authority
from smartlic.core.errors import SmartLicError
from smartlic.core.protocol import HTTP_STATUS

PROBLEM = "application/problem+json"
EXTRA_STATUS = {"CONFIGURATION": 409, "CONFLICT": 409}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        code: str = "ERROR",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code
        self.headers = headers


def problem_response(
    status: int, title: str, detail: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://smartlic.dev/problems/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_for_error(exc: SmartLicError) -> int:
    return HTTP_STATUS.get(exc.code, EXTRA_STATUS.get(exc.code, 500))


def authority_of(request: Request) -> Authority:
    authority: Authority = request.app.state.authority
    return authority


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refusing anything past ``limit`` bytes before reading it all (413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Problem(
            413, "Payload Too Large", f"the body is larger than {limit} bytes", "OVERSIZED"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(
                413, "Payload Too Large", f"the body is larger than {limit} bytes", "OVERSIZED"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def bearer_of(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate(request: Request) -> Caller:
    token = bearer_of(request)
    if token is None:
        raise Problem(401, "Unauthorized", "send Authorization: Bearer <api token>", "UNAUTHORIZED")
    authority = authority_of(request)
    with authority.sessions() as session:
        caller = AccountService(authority).authenticate(session, token)
    if caller is None:
        raise Problem(401, "Unauthorized", "the API token is not valid", "UNAUTHORIZED")
    log_fields(request)["account"] = caller.account_id
    return caller


def log_fields(request: Request) -> dict[str, Any]:
    """The fields of this request's log line (the middleware writes it when the answer goes)."""
    fields = getattr(request.state, "log_fields", None)
    if fields is None:
        fields = {}
        request.state.log_fields = fields
    return fields


def require_account(caller: Caller) -> str:
    if caller.account_id is None:
        raise Problem(403, "Forbidden", "an operator token has no smart account", "FORBIDDEN")
    return caller.account_id


def require_admin(caller: Caller) -> str:
    """A change inside the caller's virtual accounts: admin or va-user (not read-only)."""
    account_id = require_account(caller)
    if not caller.can_write:
        raise Problem(
            403, "Forbidden", "this operation needs an admin or va-user token", "FORBIDDEN"
        )
    return account_id


def require_account_admin(caller: Caller) -> str:
    """A change to the smart account itself: only an admin of the whole smart account."""
    account_id = require_account(caller)
    if not caller.is_account_admin:
        raise Problem(
            403, "Forbidden", "this operation needs an admin of the smart account", "FORBIDDEN"
        )
    return account_id
