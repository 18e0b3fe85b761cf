"""``/api/v1``: accounts, tokens, purchases, policies, instances, files, authorization codes.

Every handler resolves objects inside the caller's smart account (API token), so another
account's object answers 404; changes need an admin token (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response as HttpResponse

from smartlic.authority.accounts.models import IdToken, Purchase, User, VirtualAccount
from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.accounts.service import AccountService, Caller
from smartlic.authority.api import schemas
from smartlic.authority.api.common import (
    Problem,
    authenticate,
    authority_of,
    log_fields,
    require_account,
    require_account_admin,
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
from smartlic.core.errors import NotFoundError, TokenError
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
        (413, "Body too large"),
        (422, "Invalid parameters or body"),
        (429, "Rate limited: retry after Retry-After seconds"),
    )
}
T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")]


def page_of(items: Sequence[T], limit: int, offset: int) -> schemas.Page[T]:
    """A page of an in-memory list (the per-account lists that are small: VAs, tokens...)."""
    return schemas.Page[T](
        items=list(items[offset : offset + limit]), total=len(items), limit=limit, offset=offset
    )


def _authority(request: Request) -> Authority:
    return authority_of(request)


AuthorityDep = Annotated[Authority, Depends(_authority)]


def _va(repo: AccountRepository, caller: Caller, va_id: str) -> VirtualAccount:
    if not caller.sees(va_id):
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


def _limit_tokens(request: Request, key: str, what: str = "token creation") -> None:
    limiter: RateLimiter = request.app.state.token_limiter
    try:
        limiter.check(key, what)
    except RateLimitedError as exc:
        raise Problem(
            429,
            "Too Many Requests",
            exc.reason,
            exc.code,
            headers={"Retry-After": str(exc.retry_after)},
        ) from None


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
        row = AccountService(authority).create_account(s, body.name, actor=caller.actor)
        return schemas.AccountOut(id=row.id, name=row.name)


@router.get("/account", responses=ERRORS)
def my_account(caller: CallerDep, authority: AuthorityDep) -> schemas.AccountOut:
    account_id = require_account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        acct = repo.account()
        vas = [v for v in repo.vas() if caller.sees(v.id)]
        return schemas.AccountOut(
            id=acct.id, name=acct.name, virtual_accounts=[_va_out(v) for v in vas]
        )


@router.get("/virtual-accounts", responses=ERRORS)
def list_vas(
    caller: CallerDep, authority: AuthorityDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.Page[schemas.VirtualAccountOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        vas = AccountRepository(s, account_id).vas()
        return page_of([_va_out(v) for v in vas if caller.sees(v.id)], limit, offset)


@router.post("/virtual-accounts", status_code=201, responses=ERRORS)
def create_va(
    body: schemas.VirtualAccountIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.VirtualAccountOut:
    account_id = require_account_admin(caller)
    with transaction(authority.sessions) as s:
        row = AccountService(authority).create_va(
            s, account_id, body.name, allow_export=body.allow_export, actor=caller.actor
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
    _limit_tokens(request, caller.token_id)
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
            actor=caller.actor,
        )
        return schemas.NewTokenOut(id=new.row_id, token=new.token, expires_at=new.expires_at)


@router.get("/virtual-accounts/{va_id}/id-tokens", responses=ERRORS)
def list_id_tokens(
    va_id: str, caller: CallerDep, authority: AuthorityDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.Page[schemas.IdTokenOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        _va(repo, caller, va_id)
        return page_of([_token_out(t) for t in repo.id_tokens(va_id)], limit, offset)


@router.delete("/id-tokens/{token_id}", responses=ERRORS)
def revoke_id_token(
    token_id: str, caller: CallerDep, authority: AuthorityDep
) -> schemas.IdTokenOut:
    account_id = require_admin(caller)
    with transaction(authority.sessions) as s:
        row = AccountRepository(s, account_id).id_token(token_id)
        _va(AccountRepository(s, account_id), caller, row.va_id)
        row = AccountService(authority).revoke_id_token(s, account_id, token_id, actor=caller.actor)
        return _token_out(row)


@router.post("/api-tokens", status_code=201, responses=ERRORS)
def create_api_token(
    body: schemas.ApiTokenIn, caller: CallerDep, authority: AuthorityDep, request: Request
) -> schemas.NewTokenOut:
    account_id = require_admin(caller)
    _limit_tokens(request, caller.token_id)
    va_id = body.va_id or caller.home_va
    if caller.va_ids is not None and (va_id is None or not caller.sees(va_id)):
        raise NotFoundError("no such virtual account in this smart account")
    if body.role == "va-user" and va_id is None:
        raise Problem(422, "Unprocessable Entity", "a va-user token needs va_id", "MALFORMED")
    with transaction(authority.sessions) as s:
        new = AccountService(authority).create_api_token(
            s,
            account_id,
            va_id=va_id,
            role=body.role,
            description=body.description,
            actor=caller.actor,
        )
        return schemas.NewTokenOut(id=new.row_id, token=new.token)


# --- purchases and policies -------------------------------------------------------------------


@router.post("/virtual-accounts/{va_id}/purchases", status_code=201, responses=ERRORS)
def add_purchase(
    va_id: str, body: schemas.PurchaseIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.PurchaseOut:
    account_id = require_account_admin(caller)
    with transaction(authority.sessions) as s:
        _va(AccountRepository(s, account_id), caller, va_id)
        row = AccountService(authority).add_purchase(
            s,
            account_id,
            va_id,
            body.license_name,
            body.count,
            end_at=body.end_at,
            actor=caller.actor,
        )
        return _purchase_out(row)


@router.get("/virtual-accounts/{va_id}/purchases", responses=ERRORS)
def list_purchases(
    va_id: str, caller: CallerDep, authority: AuthorityDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.Page[schemas.PurchaseOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        _va(repo, caller, va_id)
        return page_of([_purchase_out(p) for p in repo.purchases(va_id)], limit, offset)


@router.post("/transfers", status_code=201, responses=ERRORS)
def transfer_licenses(
    body: schemas.TransferIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.TransferOut:
    """Move licenses between two virtual accounts of the smart account (account admin).

    Never below what the source has issued (authorization codes) or has in use: 409
    ``COUNT_EXCEEDED`` otherwise.
    """
    account_id = require_account_admin(caller)
    with transaction(authority.sessions) as s:
        moved = AccountService(authority).transfer(
            s,
            account_id,
            body.from_va_id,
            body.to_va_id,
            body.license_name,
            body.count,
            actor=caller.actor,
        )
        return schemas.TransferOut(
            from_va_id=body.from_va_id,
            to_va_id=body.to_va_id,
            license_name=moved[0].license_name,
            count=body.count,
            purchases=[_purchase_out(p) for p in moved],
        )


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
        elif not caller.is_account_admin:
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
            actor=caller.actor,
        )
        return _policy_out(row)


@router.get("/policies", responses=ERRORS)
def list_policies(
    caller: CallerDep, authority: AuthorityDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.Page[schemas.PolicyOut]:
    account_id = require_account(caller)
    with authority.sessions() as s:
        rows = PolicyRepository(s, account_id).all()
        visible = [_policy_out(p) for p in rows if p.va_id is None or caller.sees(p.va_id)]
        return page_of(visible, limit, offset)


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
    va_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> schemas.Page[schemas.InstanceOut]:
    """Product instances ordered by UDI, ``limit`` at a time from ``offset``."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        if va_id is not None:
            va_id = _va(AccountRepository(s, account_id), caller, va_id).id
        rows, total = InstanceService().list(
            s, account_id, va_id, limit=limit, offset=offset, va_ids=caller.va_ids
        )
        return schemas.Page[schemas.InstanceOut](
            items=[schemas.InstanceOut(**row) for row in rows],
            total=total,
            limit=limit,
            offset=offset,
        )


def _instance_visible(caller: Caller, va_id: str) -> None:
    if not caller.sees(va_id):
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


@router.get(
    "/instances/{instance_id}/policy-file",
    responses={200: XML, **ERRORS},
    response_class=HttpResponse,
)
def instance_policy_file(
    instance_id: str, caller: CallerDep, authority: AuthorityDep
) -> HttpResponse:
    """The policy file for one product instance: the policy in force, pinned to its UDI."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        row = InstanceService().find(s, account_id, instance_id)
        _instance_visible(caller, row.va_id)
        _, envelope = PolicyService(authority).grant(s, account_id, row.va_id, Udi.parse(row.udi))
    return HttpResponse(
        xmlfile.write([envelope]),
        media_type="application/xml",
        headers={"Content-Disposition": 'attachment; filename="policy.xml"'},
    )


@router.delete("/instances/{instance_id}", status_code=204, responses=ERRORS)
def remove_instance(instance_id: str, caller: CallerDep, authority: AuthorityDep) -> HttpResponse:
    account_id = require_admin(caller)
    with transaction(authority.sessions) as s:
        service = InstanceService()
        _instance_visible(caller, service.find(s, account_id, instance_id).va_id)
        service.remove(s, account_id, instance_id, authority.now(), actor=caller.actor)
    return HttpResponse(status_code=204)


@router.get("/compliance", responses={200: {"content": {"text/csv": {}}}, **ERRORS})
def get_compliance(
    caller: CallerDep,
    authority: AuthorityDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Any:
    """Per virtual account and license: in use vs purchased (JSON pages, or all as CSV)."""
    account_id = require_account(caller)
    with authority.sessions() as s:
        rows = compliance(s, account_id, authority.now(), caller.va_ids)
    if format == "csv":
        return HttpResponse(to_csv(rows), media_type="text/csv")
    return page_of([schemas.ComplianceOut(**row.to_json()) for row in rows], limit, offset)


# --- users and sessions -----------------------------------------------------------------------


def _user_out(row: User, va_ids: frozenset[str] | None) -> schemas.UserOut:
    return schemas.UserOut(
        id=row.id,
        username=row.username,
        role=row.role,
        va_ids=sorted(va_ids or ()),
        created_at=row.created_at,
    )


@router.post("/users", status_code=201, responses=ERRORS)
def create_user(
    body: schemas.UserIn, caller: CallerDep, authority: AuthorityDep
) -> schemas.UserOut:
    """Create a user of the smart account (account admin): admin, va-user or read-only."""
    account_id = require_account_admin(caller)
    service = AccountService(authority)
    with transaction(authority.sessions) as s:
        row = service.create_user(
            s,
            account_id,
            body.username,
            body.password,
            body.role,
            va_ids=body.va_ids,
            actor=caller.actor,
        )
        return _user_out(row, service.user_vas(s, row))


@router.get("/users", responses=ERRORS)
def list_users(
    caller: CallerDep, authority: AuthorityDep, limit: Limit = 100, offset: Offset = 0
) -> schemas.Page[schemas.UserOut]:
    account_id = require_account_admin(caller)
    service = AccountService(authority)
    with authority.sessions() as s:
        users = AccountRepository(s, account_id).users()
        return page_of([_user_out(u, service.user_vas(s, u)) for u in users], limit, offset)


@router.post("/login", responses=ERRORS)
def login(body: schemas.LoginIn, authority: AuthorityDep, request: Request) -> schemas.SessionOut:
    """Password login: a session token (bearer) acting as the user, for 8 hours."""
    client = request.client.host if request.client else "unknown"
    _limit_tokens(request, f"login {client}", "login")
    service = AccountService(authority)
    try:
        with transaction(authority.sessions) as s:
            new, user = service.login(s, body.account, body.username, body.password)
            va_ids = service.user_vas(s, user)
    except TokenError as exc:
        raise Problem(401, "Unauthorized", exc.reason, "UNAUTHORIZED") from None
    log_fields(request)["account"] = user.account_id
    return schemas.SessionOut(
        token=new.token,
        expires_at=new.expires_at or 0,
        account_id=user.account_id,
        username=user.username,
        role=user.role,
        va_ids=sorted(va_ids) if va_ids is not None else None,
    )


@router.post("/logout", status_code=204, responses=ERRORS)
def logout(caller: CallerDep, authority: AuthorityDep) -> HttpResponse:
    """End the session of this bearer token (any token: it is revoked)."""
    require_account(caller)
    with transaction(authority.sessions) as s:
        AccountService(authority).logout(s, caller)
    return HttpResponse(status_code=204)
