"""``/api/v1``: accounts, tokens, purchases, policies, instances, files, authorization codes.

Every handler resolves objects inside the caller's smart account (API token), so another
account's object answers 404; changes need an admin token (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response as HttpResponse

from smartlic.authority.accounts.models import IdToken, Purchase, VirtualAccount
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.accounts.service import AccountService, Caller
from smartlic.authority.api import schemas
from smartlic.authority.api.common import (
    Problem,
    authenticate,
    authority_of,
    require_account,
    require_admin,
)
from smartlic.authority.context import Authority
from smartlic.authority.db import transaction
from smartlic.authority.ops import RateLimitedError, RateLimiter
from smartlic.authority.policy.models import CustomPolicy
from smartlic.authority.policy.repository import PolicyRepository
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.usage.compliance import compliance, to_csv
from smartlic.core import jsonio, xmlfile
from smartlic.core.errors import NotFoundError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import ClassOverrides
from smartlic.core.udi import Udi

router = APIRouter(prefix="/api/v1", tags=["api"])
CallerDep = Annotated[Caller, Depends(authenticate)]
MAX_FILE = 64 * 1024 * 1024
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/problem+json": {}}}
    for code, text in (
        (400, "Malformed input"),
        (401, "No or bad API token"),
        (403, "Not allowed for this token"),
        (404, "No such object in this account"),
        (409, "Conflicts with stored state"),
    )
}


def _authority(request: Request) -> Authority:
    return authority_of(request)


AuthorityDep = Annotated[Authority, Depends(_authority)]


def _va(repo: AccountRepository, caller: Caller, va_id: str) -> VirtualAccount:
    if caller.va_id is not None and caller.va_id != va_id:
        raise NotFoundError("no such virtual account in this smart account")
    return repo.va(va_id)


def _va_out(va: VirtualAccount) -> schemas.VirtualAccountOut:
    return schemas.VirtualAccountOut(
        id=va.id, name=va.name, tenant_id=va.tenant_id, allow_export=va.allow_export
    )


def _token_out(row: IdToken) -> schemas.IdTokenOut:
    return schemas.IdTokenOut(
        id=row.id,
        va_id=row.va_id,
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        max_uses=row.max_uses,
        uses=row.uses,
        allow_export=row.allow_export,
        revoked_at=row.revoked_at,
    )


def _purchase_out(row: Purchase) -> schemas.PurchaseOut:
    return schemas.PurchaseOut(
        id=row.id,
        va_id=row.va_id,
        license_name=row.license_name,
        count=row.count,
        start_at=row.start_at,
        end_at=row.end_at,
    )


def _policy_out(row: CustomPolicy) -> schemas.PolicyOut:
    return schemas.PolicyOut(
        id=row.id,
        va_id=row.va_id,
        name=row.name,
        serial=row.serial,
        created_at=row.created_at,
        spec=jsonio.loads(row.spec),
    )


def _limit_tokens(request: Request, caller: Caller) -> None:
    limiter: RateLimiter = request.app.state.token_limiter
    try:
        limiter.check(caller.token_id, "token creation")
    except RateLimitedError as exc:
        raise Problem(429, "Too Many Requests", exc.reason, exc.code) from None


# --- accounts ---------------------------------------------------------------------------------


@router.post("/accounts", status_code=201, responses=ERRORS)
def create_account(
    body: schemas.AccountIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.AccountOut:
    if caller.role != "operator":
        raise Problem(
            403, "Forbidden", "creating smart accounts needs an operator token", "FORBIDDEN"
        )
    with transaction(authority.sessions) as s:
        row = AccountService(authority).create_account(s, body.name, actor=f"api {caller.token_id}")
        return schemas.AccountOut(id=row.id, name=row.name)


@router.get("/account", responses=ERRORS)
def my_account(caller: CallerDep, authority: AuthorityDep) -> schemas.AccountOut:
    account_id = require_account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        acct = repo.account()
        vas = [v for v in repo.vas() if caller.va_id in (None, v.id)]
        return schemas.AccountOut(
            id=acct.id, name=acct.name, virtual_accounts=[_va_out(v) for v in vas]
        )


@router.get("/virtual-accounts", responses=ERRORS)
def list_vas(caller: CallerDep, authority: AuthorityDep) -> list[schemas.VirtualAccountOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        vas = AccountRepository(s, account_id).vas()
        return [_va_out(v) for v in vas if caller.va_id in (None, v.id)]


@router.post("/virtual-accounts", status_code=201, responses=ERRORS)
def create_va(
    body: schemas.VirtualAccountIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.VirtualAccountOut:
    account_id = require_admin(caller)
    with transaction(authority.sessions) as s:
        row = AccountService(authority).create_va(
            s, account_id, body.name, allow_export=body.allow_export, actor=f"api {caller.token_id}"
        )
        return _va_out(row)


@router.get("/virtual-accounts/{va_id}", responses=ERRORS)
def show_va(va_id: str, caller: CallerDep, authority: AuthorityDep) -> schemas.VirtualAccountOut:
    account_id = require_account(caller)
    with authority.sessions() as s:
        return _va_out(_va(AccountRepository(s, account_id), caller, va_id))


# --- tokens -----------------------------------------------------------------------------------


@router.post("/virtual-accounts/{va_id}/id-tokens", status_code=201, responses=ERRORS)
def create_id_token(
    va_id: str,
    body: schemas.IdTokenIn,
    caller: CallerDep,
    authority: AuthorityDep,
    request: Request,
) -> schemas.NewTokenOut:
    account_id = require_admin(caller)
    _limit_tokens(request, caller)
    with transaction(authority.sessions) as s:
        _va(AccountRepository(s, account_id), caller, va_id)
        new = AccountService(authority).create_id_token(
            s,
            account_id,
            va_id,
            expires_days=body.expires_days,
            max_uses=body.max_uses,
            allow_export=body.allow_export,
            description=body.description,
            actor=f"api {caller.token_id}",
        )
        return schemas.NewTokenOut(id=new.row_id, token=new.token, expires_at=new.expires_at)


@router.get("/virtual-accounts/{va_id}/id-tokens", responses=ERRORS)
def list_id_tokens(
    va_id: str, caller: CallerDep, authority: AuthorityDep
) -> list[schemas.IdTokenOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        _va(repo, caller, va_id)
        return [_token_out(t) for t in repo.id_tokens(va_id)]


@router.delete("/id-tokens/{token_id}", responses=ERRORS)
def revoke_id_token(
    token_id: str, caller: CallerDep, authority: AuthorityDep
) -> schemas.IdTokenOut:
    account_id = require_admin(caller)
    with transaction(authority.sessions) as s:
        row = AccountRepository(s, account_id).id_token(token_id)
        _va(AccountRepository(s, account_id), caller, row.va_id)
        row = AccountService(authority).revoke_id_token(
            s, account_id, token_id, actor=f"api {caller.token_id}"
        )
        return _token_out(row)


@router.post("/api-tokens", status_code=201, responses=ERRORS)
def create_api_token(
    body: schemas.ApiTokenIn, caller: CallerDep, authority: AuthorityDep, request: Request
) -> schemas.NewTokenOut:
    account_id = require_admin(caller)
    _limit_tokens(request, caller)
    va_id = body.va_id or caller.va_id
    if caller.va_id is not None and va_id != caller.va_id:
        raise NotFoundError("no such virtual account in this smart account")
    with transaction(authority.sessions) as s:
        new = AccountService(authority).create_api_token(
            s,
            account_id,
            va_id=va_id,
            role=body.role,
            description=body.description,
            actor=f"api {caller.token_id}",
        )
        return schemas.NewTokenOut(id=new.row_id, token=new.token)


# --- purchases and policies -------------------------------------------------------------------


@router.post("/virtual-accounts/{va_id}/purchases", status_code=201, responses=ERRORS)
def add_purchase(
    va_id: str, body: schemas.PurchaseIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.PurchaseOut:
    account_id = require_admin(caller)
    with transaction(authority.sessions) as s:
        _va(AccountRepository(s, account_id), caller, va_id)
        row = AccountService(authority).add_purchase(
            s,
            account_id,
            va_id,
            body.license_name,
            body.count,
            end_at=body.end_at,
            actor=f"api {caller.token_id}",
        )
        return _purchase_out(row)


@router.get("/virtual-accounts/{va_id}/purchases", responses=ERRORS)
def list_purchases(
    va_id: str, caller: CallerDep, authority: AuthorityDep
) -> list[schemas.PurchaseOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        _va(repo, caller, va_id)
        return [_purchase_out(p) for p in repo.purchases(va_id)]


@router.post("/policies", status_code=201, responses=ERRORS)
def create_policy(
    body: schemas.PolicyIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.PolicyOut:
    account_id = require_admin(caller)
    rules: dict[PolicyClass, ClassOverrides] = {}
    for policy_class in PolicyClass:
        given: schemas.ClassRulesIn | None = getattr(body, policy_class.value)
        if given is not None:
            rules[policy_class] = ClassOverrides(
                given.first_report, given.reporting_frequency, given.report_on_change
            )
    with transaction(authority.sessions) as s:
        if body.va_id is not None:
            _va(AccountRepository(s, account_id), caller, body.va_id)
        elif caller.va_id is not None:
            raise Problem(
                403, "Forbidden", "a virtual-account token cannot set account policies", "FORBIDDEN"
            )
        row = PolicyService(authority).create(
            s,
            account_id,
            body.name,
            va_id=body.va_id,
            rules=rules,
            ack_required=body.ack_required,
            actor=f"api {caller.token_id}",
        )
        return _policy_out(row)


@router.get("/policies", responses=ERRORS)
def list_policies(caller: CallerDep, authority: AuthorityDep) -> list[schemas.PolicyOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        return [_policy_out(p) for p in PolicyRepository(s, account_id).all()]


XML: dict[str, Any] = {"content": {"application/xml": {}}}


@router.get(
    "/virtual-accounts/{va_id}/policy-file",
    responses={200: XML, **ERRORS},
    response_class=HttpResponse,
)
def policy_file(
    va_id: str,
    caller: CallerDep,
    authority: AuthorityDep,
    udi: Annotated[str | None, Query()] = None,
) -> HttpResponse:
    account_id = require_account(caller)
    pinned = Udi.parse(udi) if udi else None
    with authority.sessions() as s:
        _va(AccountRepository(s, account_id), caller, va_id)
        _, envelope = PolicyService(authority).grant(s, account_id, va_id, pinned)
    return HttpResponse(xmlfile.write([envelope]), media_type="application/xml")


# --- instances --------------------------------------------------------------------------------


@router.get("/instances", responses=ERRORS)
def list_instances(
    caller: CallerDep,
    authority: AuthorityDep,
    va_id: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[schemas.InstanceOut]:
    """Product instances ordered by UDI, ``limit`` at a time from ``offset``."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        if caller.va_id is not None:
            va_id = _va(AccountRepository(s, account_id), caller, va_id or caller.va_id).id
        rows = InstanceService().list(s, account_id, va_id, limit=limit, offset=offset)
        return [schemas.InstanceOut(**row) for row in rows]


def _instance_visible(caller: Caller, va_id: str) -> None:
    if caller.va_id is not None and caller.va_id != va_id:
        raise NotFoundError("no such product instance in this smart account")


@router.get("/instances/{instance_id}", responses=ERRORS)
def show_instance(
    instance_id: str, caller: CallerDep, authority: AuthorityDep
) -> schemas.InstanceDetail:
    account_id = require_account(caller)
    with authority.sessions() as s:
        out = InstanceService().show(s, account_id, instance_id)
        _instance_visible(caller, out["va_id"])
        return schemas.InstanceDetail(**out)


@router.delete("/instances/{instance_id}", status_code=204, responses=ERRORS)
def remove_instance(instance_id: str, caller: CallerDep, authority: AuthorityDep) -> HttpResponse:
    account_id = require_admin(caller)
    with transaction(authority.sessions) as s:
        service = InstanceService()
        _instance_visible(caller, service.find(s, account_id, instance_id).va_id)
        service.remove(s, account_id, instance_id, authority.now(), actor=f"api {caller.token_id}")
    return HttpResponse(status_code=204)


@router.get("/compliance", responses={200: {"content": {"text/csv": {}}}, **ERRORS})
def get_compliance(
    caller: CallerDep,
    authority: AuthorityDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Any:
    account_id = require_account(caller)
    with authority.sessions() as s:
        rows = compliance(s, account_id, authority.now())
    if format == "csv":
        return HttpResponse(to_csv(rows), media_type="text/csv")
    return [schemas.ComplianceOut(**row.to_json()) for row in rows]
