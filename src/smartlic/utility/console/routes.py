"""Console pages over the ``Utility`` service class.

Protection: the console answers only requests from the loopback interface (127.0.0.0/8, ::1);
anything else gets 403, whatever address the utility listens on. Reach it remotely through an
SSH tunnel. Every form carries a CSRF token (double-submit: a random HttpOnly SameSite=Strict
cookie, the same value in a hidden field), so another site open in the same browser cannot post
to it.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.responses import Response as HttpResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import UploadFile

from smartlic.core.errors import SmartLicError
from smartlic.core.timefmt import iso
from smartlic.utility.inventory import last_acks, push_instances
from smartlic.utility.service import Utility

HERE = Path(__file__).parent
CSRF_COOKIE = "cslu_csrf"
MAX_UPLOAD = 64 * 1024 * 1024
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["when"] = lambda t: iso(int(t)) if t else "—"
router = APIRouter(prefix="/console", include_in_schema=False)


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
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Jobs:
    """Collect Usage runs in a thread; its progress is polled by the page (htmx)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def start(self, utility: Utility, refs: list[str]) -> str:
        devices = utility.select_devices(refs or None)
        job_id = uuid.uuid4().hex
        job: dict[str, Any] = {"total": len(devices), "results": [], "done": False, "error": ""}
        with self.lock:
            self.jobs[job_id] = job

        def done(result: dict[str, Any]) -> None:
            with self.lock:
                job["results"].append(result)

        def run() -> None:
            try:
                utility.collect(refs or None, on_done=done)
            except SmartLicError as exc:
                job["error"] = exc.diagnostics()
            finally:
                job["done"] = True

        threading.Thread(target=run, name=f"collect-{job_id[:8]}", daemon=True).start()
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                raise Refused("No such collection: start a new one from the inventory.", 404)
            return {**job, "results": list(job["results"])}


def _utility(request: Request) -> Utility:
    utility: Utility = request.app.state.utility
    return utility


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response: HTMLResponse = templates.TemplateResponse(
        request, name, {"csrf": token, **context}, status_code=status
    )
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/console",
        )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _form(request: Request) -> dict[str, Any]:
    out = await read_form(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(str(out.get("csrf", "")), cookie):
        raise Refused("This form has expired or was not sent from the console. Reload it.", 403)
    return out


def _inventory(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    utility = _utility(request)
    devices = utility.devices()
    acks = last_acks(utility.store, (d["udi"] for d in devices))
    pushed, pushed_total = push_instances(utility.store)
    return _render(
        request, "inventory.html", status, devices=devices, info=utility.status(),
        last_acks=acks, pushed=pushed, pushed_total=pushed_total, **context,
    )  # fmt: skip


@router.get("")
@router.get("/")
def inventory(request: Request, notice: str = "") -> HTMLResponse:
    return _inventory(request, notice=notice)


@router.post("/devices")
async def add_device(request: Request) -> HttpResponse:
    form = await _form(request)
    try:
        port = int(str(form.get("port", "")))
    except ValueError:
        raise Refused("The port must be a number, e.g. 443.") from None
    _utility(request).add_device(
        str(form.get("host", "")).strip(), port, str(form.get("username", "")),
        str(form.get("password", "")), str(form.get("udi", "")).strip() or None,
        scheme=str(form.get("scheme") or "http"),
    )  # fmt: skip
    return RedirectResponse("/console/?notice=Product+instance+added", status_code=303)


@router.post("/devices/import")
async def import_devices(request: Request) -> HttpResponse:
    form = await _form(request)
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise Refused("Choose a CSV file: rows of host,port,udi,username,password.")
    text = upload.data.decode("utf-8-sig", errors="replace")
    added = _utility(request).import_csv(text)
    return RedirectResponse(f"/console/?notice={len(added)}+imported", status_code=303)


@router.post("/devices/remove")
async def remove_devices(request: Request) -> HttpResponse:
    form = await _form(request)
    if not form["_selected"]:
        raise Refused("Select the product instances to remove first.")
    for ref in form["_selected"]:
        _utility(request).remove_device(ref)
    return RedirectResponse("/console/?notice=Removed", status_code=303)


@router.post("/collect")
async def collect(request: Request) -> HTMLResponse:
    form = await _form(request)
    jobs: Jobs = request.app.state.console_jobs
    job_id = jobs.start(_utility(request), form["_selected"])
    return _inventory(request, job=job_id, progress=jobs.get(job_id))


@router.get("/collect/{job_id}")
def collect_progress(request: Request, job_id: str) -> HTMLResponse:
    jobs: Jobs = request.app.state.console_jobs
    return _render(request, "progress.html", job=job_id, progress=jobs.get(job_id))


@router.get("/preferences")
def preferences(request: Request, notice: str = "") -> HTMLResponse:
    return _render(
        request, "preferences.html", prefs=_utility(request).preferences(), notice=notice
    )


@router.post("/preferences")
async def save_preferences(request: Request) -> HttpResponse:
    form = await _form(request)
    keys = form.get("authority_keys")
    key_bytes = keys.data if isinstance(keys, Upload) else None
    _utility(request).configure(
        connected=form.get("mode") == "connected",
        authority_url=str(form.get("authority_url", "")).strip() or None,
        authority_token=str(form.get("authority_token", "")).strip() or None,
        account=str(form.get("account", "")).strip() or None,
        va=str(form.get("va", "")).strip() or None,
        authority_keys=key_bytes,
    )
    return RedirectResponse("/console/preferences?notice=Saved", status_code=303)


@router.get("/data")
def data(request: Request, notice: str = "") -> HTMLResponse:
    return _render(request, "data.html", info=_utility(request).status(), notice=notice)


@router.post("/data/download-all")
async def download_all(request: Request) -> HttpResponse:
    await _form(request)
    utility = _utility(request)
    out = utility.data / "downloads"
    out.mkdir(exist_ok=True)
    path = out / f"UD_{uuid.uuid4().hex[:12]}.tar.gz"
    await run_in_threadpool(utility.download_all, path)
    return HttpResponse(
        path.read_bytes(),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )


@router.post("/data/upload-from")
async def upload_from(request: Request) -> HttpResponse:
    form = await _form(request)
    upload = form.get("file")
    if not isinstance(upload, Upload):
        raise Refused("Choose the ACK file you downloaded from the authority.")
    utility = _utility(request)
    with tempfile.TemporaryDirectory(dir=utility.data) as tmp:
        path = Path(tmp) / "ack.tar.gz"
        path.write_bytes(upload.data)
        result = await run_in_threadpool(utility.upload_from, path)
    summary = ", ".join(f"{k}: {v}" for k, v in result.items() if isinstance(v, int | str))
    return RedirectResponse(f"/console/data?notice=Imported+({summary})", status_code=303)


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "testclient"


def mount(app: FastAPI) -> None:
    app.state.console_jobs = Jobs()
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=str(HERE / "static")), name="console-static")

    @app.middleware("http")
    async def _loopback_only(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/console") and not _loopback(request):
            return HTMLResponse(
                "The console answers only on this machine (loopback). Use an SSH tunnel.",
                status_code=403,
            )
        return await call_next(request)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> HttpResponse:
        return _render(request, "error.html", exc.status, message=exc.message)

    @app.exception_handler(SmartLicError)
    async def _smartlic(request: Request, exc: SmartLicError) -> HttpResponse:
        status = 404 if exc.code == "NOT_FOUND" else 409
        if not request.url.path.startswith("/console"):
            return JSONResponse({"code": exc.code, "detail": exc.reason}, status_code=status)
        return _render(request, "error.html", status, message=exc.diagnostics())
