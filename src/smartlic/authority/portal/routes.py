"""Portal pages: sign in, inventory, licenses, ID tokens and policies, event log; the
Reports page is ``portal/reports.py`` (it uses the helpers here).

Session: the ``sls_`` session token of ``AccountService.login`` in an HttpOnly, SameSite=Lax
cookie (Secure over https). CSRF: every form carries ``csrf`` = SHA-256 of the session token
(the page cannot be read cross-site and the cookie not by script); the sign-in form uses a
double-submit cookie. Handlers only call the services and repositories, as ``/api/v1`` does.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.accounts.service import AccountService, Caller
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.context import Authority
from smartlic.authority.db import transaction
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.portal.chart import usage_chart
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.trust.inventory import (
    LAST_REPORT_LABELS,
    OVERDUE_LABELS,
    TRUST_LABELS,
    InventoryQuery,
    InventoryService,
)
from smartlic.authority.usage.compliance import compliance, to_csv
from smartlic.authority.usage.history import UsageHistory
from smartlic.core import xmlfile
from smartlic.core.errors import NotFoundError, SmartLicError
from smartlic.core.license_class import PolicyClass
from smartlic.core.timefmt import iso
from smartlic.core.udi import Udi

HERE = Path(__file__).parent
COOKIE = "slp_session"
LOGIN_CSRF = "slp_login_csrf"
PAGE = 50
MAX_UPLOAD = 64 * 1024 * 1024
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["when"] = lambda t: iso(int(t)) if t else "—"
templates.env.filters["policy_value"] = lambda v: (
    f"{'yes' if v.value is True else 'no' if v.value is False else v.value}"
    f" ({getattr(v.origin, 'value', v.origin)})"
)
router = APIRouter(prefix="/portal", include_in_schema=False)


class SignIn(Exception):
    """No valid session: go to the sign-in page."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


async def read_form(request: Request) -> dict[str, Any]:
    """The posted fields; files read whole into ``Upload`` (and the spooled files closed).
    ``_selected`` is every value of the repeated ``selected`` field."""
    form = await request.form(max_part_size=MAX_UPLOAD)
    try:
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if value.filename:
                    out[key] = Upload(value.filename, await value.read())
            else:
                out[key] = value
        out["_selected"] = [str(x) for x in form.getlist("selected")]
        return out
    finally:
        await form.close()


class Refused(Exception):
    """A form was refused: show the message on a page with status ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def csrf_for(session_token: str) -> str:
    return hashlib.sha256(b"smartlic-portal-csrf:" + session_token.encode()).hexdigest()


def _authority(request: Request) -> Authority:
    authority: Authority = request.app.state.authority
    return authority


def _caller(request: Request) -> Caller:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignIn
    authority = _authority(request)
    with authority.sessions() as s:
        caller = AccountService(authority).authenticate(s, token)
    if caller is None or caller.account_id is None:
        raise SignIn
    return caller


async def _form(request: Request) -> dict[str, Any]:
    """The posted form, after the CSRF check (403 without the session's token)."""
    form = await read_form(request)
    token = request.cookies.get(COOKIE, "")
    given = str(form.get("csrf", ""))
    if not token or not hmac.compare_digest(given, csrf_for(token)):
        raise Refused(
            "This form has expired or was not sent from the portal. Reload and retry.", 403
        )
    return form


def _render(request: Request, name: str, caller: Caller | None, **context: Any) -> HTMLResponse:
    token = request.cookies.get(COOKIE, "")
    vas: list[Any] = []
    account = ""
    if caller is not None and caller.account_id is not None:
        authority = _authority(request)
        with authority.sessions() as s:
            repo = AccountRepository(s, caller.account_id)
            account = repo.account().name
            vas = [{"id": v.id, "name": v.name} for v in repo.vas() if caller.sees(v.id)]
    current = request.query_params.get("va") or request.cookies.get("slp_va") or ""
    context.setdefault("status_code", 200)
    status = context.pop("status_code")
    response: HTMLResponse = templates.TemplateResponse(
        request,
        name,
        {
            "caller": caller,
            "csrf": csrf_for(token) if token else "",
            "account": account,
            "vas": vas,
            "current_va": current if any(v["id"] == current for v in vas) else "",
            **context,
        },
        status_code=status,
    )
    return response


def _va_of(request: Request, caller: Caller, va_id: str) -> str:
    """A virtual account the caller sees (404-worded refusal otherwise)."""
    assert caller.account_id is not None
    if not va_id or not caller.sees(va_id):
        raise Refused("Choose one of your virtual accounts.", 404)
    authority = _authority(request)
    with authority.sessions() as s:
        AccountRepository(s, caller.account_id).va(va_id)
    return va_id


def _account(caller: Caller) -> str:
    assert caller.account_id is not None
    return caller.account_id


def _writer(caller: Caller) -> str:
    if not caller.can_write:
        raise Refused("Your role is read-only: ask an administrator of the account.", 403)
    return _account(caller)


def _download(data: bytes, filename: str, media_type: str) -> HttpResponse:
    return HttpResponse(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- sign in ------------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, error: str = "") -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    response = _render(request, "login.html", None, login_csrf=nonce, error=error)
    response.set_cookie(
        LOGIN_CSRF,
        nonce,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/portal",
    )
    return response


@router.post("/login")
async def login(request: Request) -> HttpResponse:
    form = await read_form(request)
    nonce = request.cookies.get(LOGIN_CSRF, "")
    if not nonce or not hmac.compare_digest(str(form.get("csrf", "")), nonce):
        raise Refused("The sign-in form has expired. Reload the page and sign in again.", 403)
    authority = _authority(request)
    service = AccountService(authority)

    def work() -> str:
        with transaction(authority.sessions) as s:
            new, _user = service.login(
                s, str(form.get("account", "")), str(form.get("username", "")),
                str(form.get("password", "")),
            )  # fmt: skip
            return new.token

    try:
        token = await run_in_threadpool(work)
    except SmartLicError:
        response: HttpResponse = login_page(
            request, error="Wrong smart account, user name or password. Check them and retry."
        )
        response.status_code = 401
        return response
    response = RedirectResponse("/portal/inventory", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=8 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/portal",
    )
    response.delete_cookie(LOGIN_CSRF, path="/portal")
    return response


@router.post("/logout")
async def logout(request: Request) -> HttpResponse:
    await _form(request)
    caller = _caller(request)
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        AccountService(authority).logout(s, caller)
    response = RedirectResponse("/portal/login", status_code=303)
    response.delete_cookie(COOKIE, path="/portal")
    return response


@router.get("")
@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/portal/inventory", status_code=303)


# --- inventory ----------------------------------------------------------------------------------


@router.get("/inventory")
def inventory(
    request: Request, va: str = "", q: str = "", trust: str = "", last_report: str = "",
    overdue: str = "", page: int = 1,
) -> HttpResponse:  # fmt: skip
    caller = _caller(request)
    account_id = _account(caller)
    authority = _authority(request)
    page = max(1, page)
    try:
        query = InventoryQuery.parse(
            va=va, trust=trust, last_report=last_report, overdue=overdue, q=q
        )
    except SmartLicError as exc:
        raise Refused(exc.diagnostics()) from None
    if query.search:
        with authority.sessions() as s:
            try:
                row = InstanceService().find(s, account_id, query.search)
            except NotFoundError:
                row = None
        if row is not None and caller.sees(row.va_id):
            return RedirectResponse(f"/portal/inventory/{row.id}", status_code=303)
    if query.va_id is not None:
        _va_of(request, caller, query.va_id)
    with authority.sessions() as s:
        rows, total = InventoryService(authority).page(
            s, account_id, query, authority.now(), limit=PAGE, offset=(page - 1) * PAGE,
            va_ids=caller.va_ids,
        )  # fmt: skip
    pages = max(1, (total + PAGE - 1) // PAGE)
    params = query.params()
    return _render(
        request, "inventory.html", caller, rows=rows, total=total, page=page, pages=pages,
        query=query, filtered=bool(params), trust_labels=TRUST_LABELS,
        last_report_labels=LAST_REPORT_LABELS, overdue_labels=OVERDUE_LABELS,
        prev_url="?" + urlencode({**params, "page": page - 1}) if page > 1 else "",
        next_url="?" + urlencode({**params, "page": page + 1}) if page < pages else "",
    )  # fmt: skip


@router.get("/inventory/{instance_id}")
def instance_detail(request: Request, instance_id: str) -> HTMLResponse:
    caller = _caller(request)
    account_id = _account(caller)
    authority = _authority(request)
    now = authority.now()
    with authority.sessions() as s:
        detail = InstanceService().show(s, account_id, instance_id)
        if not caller.sees(detail["va_id"]):
            raise NotFoundError("no such product instance in this smart account")
        codes, _ = CodeRepository(s, account_id).page(
            detail["va_id"], limit=1000, offset=0, va_ids=caller.va_ids, udi=detail["udi"]
        )
        events = AccountRepository(s, account_id).audit(200, subject=detail["udi"])
        inventory = InventoryService(authority)
        row = InstanceService().find(s, account_id, detail["id"])
        deadline = inventory.deadline_of(s, account_id, row, now)
        ha = inventory.ha_set(s, account_id, detail["id"])
        series = UsageHistory(s, account_id).instance(detail["id"])
    chart = usage_chart("instance-usage", f"Licenses in use over time: {detail['udi']}", series)
    return _render(
        request, "instance.html", caller, i=detail, codes=codes, events=events, ha=ha,
        deadline=deadline, chart=chart,
    )  # fmt: skip


@router.post("/inventory/{instance_id}/remove")
async def instance_remove(request: Request, instance_id: str) -> HttpResponse:
    await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        service = InstanceService()
        if not caller.sees(service.find(s, account_id, instance_id).va_id):
            raise NotFoundError("no such product instance in this smart account")
        service.remove(s, account_id, instance_id, authority.now(), actor=caller.actor)
    return RedirectResponse("/portal/inventory", status_code=303)


@router.get("/inventory/{instance_id}/policy-file")
def instance_policy_file(request: Request, instance_id: str) -> HttpResponse:
    caller = _caller(request)
    account_id = _account(caller)
    authority = _authority(request)
    with authority.sessions() as s:
        row = InstanceService().find(s, account_id, instance_id)
        if not caller.sees(row.va_id):
            raise NotFoundError("no such product instance in this smart account")
        _, envelope = PolicyService(authority).grant(s, account_id, row.va_id, Udi.parse(row.udi))
    return _download(xmlfile.write([envelope]), "policy.xml", "application/xml")


# --- licenses -----------------------------------------------------------------------------------


@router.get("/licenses")
def licenses(request: Request, done: str = "") -> HTMLResponse:
    caller = _caller(request)
    authority = _authority(request)
    account_id = _account(caller)
    with authority.sessions() as s:
        rows = compliance(s, account_id, authority.now(), caller.va_ids)
        history = UsageHistory(s, account_id)
        charts = [
            usage_chart(f"va-usage-{n}", f"Licenses in use over time: {va.name}", series)
            for n, va in enumerate(AccountRepository(s, account_id).vas())
            if caller.sees(va.id) and (series := history.virtual_account(va.id))
        ]
    scale = max([1, *(max(r.purchased, r.in_use) for r in rows)])
    return _render(
        request, "licenses.html", caller, rows=rows, done=done, scale=scale, charts=charts
    )


@router.get("/licenses.csv")
def licenses_csv(request: Request) -> HttpResponse:
    caller = _caller(request)
    authority = _authority(request)
    with authority.sessions() as s:
        rows = compliance(s, _account(caller), authority.now(), caller.va_ids)
    return _download(to_csv(rows).encode(), "licenses.csv", "text/csv")


@router.post("/licenses/transfer")
async def transfer(request: Request) -> HttpResponse:
    form = await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    if not caller.is_account_admin:
        raise Refused("Only an administrator of the whole smart account can transfer.", 403)
    try:
        count = int(str(form.get("count", "")))
    except ValueError:
        raise Refused("The count must be a whole number, e.g. 2.") from None
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        AccountService(authority).transfer(
            s, account_id, str(form.get("from_va", "")), str(form.get("to_va", "")),
            str(form.get("license", "")), count, actor=caller.actor,
        )  # fmt: skip
    return RedirectResponse(
        f"/portal/licenses?done={count}+{form.get('license', '')}+moved", status_code=303
    )


# --- general: ID tokens and policies ------------------------------------------------------------


def _tokens_page(request: Request, caller: Caller, va: str, new_token: str = "") -> HTMLResponse:
    authority = _authority(request)
    account_id = _account(caller)
    with authority.sessions() as s:
        repo = AccountRepository(s, account_id)
        visible = [v for v in repo.vas() if caller.sees(v.id)]
        va_id = va or (visible[0].id if visible else "")
        tokens = repo.id_tokens(va_id) if va_id and caller.sees(va_id) else []
        in_force = PolicyService(authority).in_force(s, account_id, va_id) if va_id else None
    rules = []
    if in_force is not None:
        for policy_class in PolicyClass:
            r = in_force.policy.rules.get(policy_class)
            if r is not None:
                rules.append((policy_class.value, r))
    return _render(
        request, "general.html", caller, tokens=tokens, va=va_id, new_token=new_token,
        in_force=in_force, rules=rules,
    )  # fmt: skip


@router.get("/general")
def general(request: Request, va: str = "") -> HTMLResponse:
    return _tokens_page(request, _caller(request), va)


@router.post("/general/tokens")
async def create_token(request: Request) -> HTMLResponse:
    form = await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    va_id = _va_of(request, caller, str(form.get("va", "")))
    try:
        days = int(str(form.get("expires_days") or 30))
        uses = int(str(form.get("max_uses") or 0)) or None
    except ValueError:
        raise Refused("Expiry (days) and maximum uses must be whole numbers.") from None
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        new = AccountService(authority).create_id_token(
            s, account_id, va_id, expires_days=days, max_uses=uses,
            allow_export=form.get("allow_export") == "on",
            description=str(form.get("description", "")), actor=caller.actor,
        )  # fmt: skip
    response = _tokens_page(request, caller, va_id, new_token=new.token)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/general/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> HttpResponse:
    await _form(request)
    caller = _caller(request)
    account_id = _writer(caller)
    authority = _authority(request)
    with transaction(authority.sessions) as s:
        row = AccountRepository(s, account_id).id_token(token_id)
        if not caller.sees(row.va_id):
            raise NotFoundError("no such ID token in this smart account")
        AccountService(authority).revoke_id_token(s, account_id, token_id, actor=caller.actor)
    return RedirectResponse(f"/portal/general?va={row.va_id}", status_code=303)


# --- event log ----------------------------------------------------------------------------------


@router.get("/events")
def events(request: Request, q: str = "", outcome: str = "") -> HTMLResponse:
    caller = _caller(request)
    authority = _authority(request)
    with authority.sessions() as s:
        shown = AccountRepository(s, _account(caller)).audit(200, search=q, outcome=outcome)
    return _render(request, "events.html", caller, rows=shown, q=q, outcome=outcome)


# --- mounting -----------------------------------------------------------------------------------


def mount(app: FastAPI) -> None:
    """Add the portal's routes, static files and error pages to the authority's app."""
    app.include_router(router)
    from smartlic.authority.portal import reports  # it imports this module's helpers

    app.include_router(reports.router)
    app.mount("/portal/static", StaticFiles(directory=str(HERE / "static")), name="portal-static")

    @app.exception_handler(SignIn)
    async def _signin(request: Request, exc: SignIn) -> HttpResponse:
        response = RedirectResponse("/portal/login", status_code=303)
        response.delete_cookie(COOKIE, path="/portal")
        return response

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> HttpResponse:
        return _error(request, exc.message, exc.status)

    previous = app.exception_handlers.get(SmartLicError)

    @app.exception_handler(SmartLicError)
    async def _smartlic(request: Request, exc: SmartLicError) -> Any:
        if request.url.path.startswith("/portal") and previous is not None:
            return _error(request, exc.diagnostics(), 409 if exc.code != "NOT_FOUND" else 404)
        assert previous is not None
        result = previous(request, exc)
        return await result if inspect.isawaitable(result) else result


def _error(request: Request, message: str, status: int) -> HTMLResponse:
    try:
        caller: Caller | None = _caller(request)
    except SignIn:
        caller = None
    return _render(request, "error.html", caller, message=message, status_code=status)
