"""``smartlic utility ...``: serve the push endpoint, keep the pull inventory, collect, and move
usage and ACKs through files (Download All For Cisco / Upload From Cisco).

Every command takes ``--data DIR`` (also ``SMARTLIC_UTILITY_DATA``) and ``--json``. Commands other
than ``serve`` work on the state database directly, so they run while ``serve`` does. Errors
print what failed and what to do, and exit 1.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from smartlic.core.errors import FormatError, SmartLicError
from smartlic.support import announce
from smartlic.support.announce import UTILITY_URLS as URLS
from smartlic.support.listen import check_free
from smartlic.utility.service import Utility
from smartlic.utility.store import DB_ENV

DATA_ENV = "SMARTLIC_UTILITY_DATA"


def _default_data() -> Path:
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "smartlic" / "utility"


app = typer.Typer(
    name="utility",
    help="The utility (CSLU role): push endpoint, collection, connected or disconnected.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
device_app = typer.Typer(
    help="The inventory of devices to collect from (pull).", no_args_is_help=True
)
app.add_typer(device_app, name="device")

console = Console()
err_console = Console(stderr=True)

Data = Annotated[
    Path,
    typer.Option("--data", help="The utility's state folder.", envvar=DATA_ENV),
]
Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="State database URL: postgresql://... (default: SQLite in --data; remembered in "
        "--data once given).",
        envvar=DB_ENV,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
F = TypeVar("F", bound=Callable[..., Any])


def errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SmartLicError as exc:
            err_console.print(f"[red]Error:[/red] {exc.diagnostics()}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def emit(as_json: bool, obj: Any, text: str | None = None) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, sort_keys=True))
    else:
        console.print(text if text is not None else json.dumps(obj, indent=2), highlight=False)


def _progress(as_json: bool) -> Progress:
    """Bars (on stderr) only for a person at a terminal: never with ``--json``, and not when
    stdout goes to a pipe or a file, where they would be noise in a log."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=as_json or not console.is_terminal,
        transient=True,
    )


class _Bars:
    """The service's progress callback drawn as bars: one per step it names, sized when the
    service first says how much there is."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        task = self.tasks.get(what)
        if task is None:
            task = self.tasks[what] = self.progress.add_task(what, total=total)
        self.progress.update(task, completed=done, total=total)


def _opened(data: Path, db: str | None) -> contextlib.closing[Utility]:
    return contextlib.closing(Utility(data, db=db))


class _JsonLogs(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": round(record.created, 3),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


@app.command()
@errors
def serve(
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8182,
    authority: Annotated[
        str | None, typer.Option("--authority", help="The authority's URL (connected).")
    ] = None,
    authority_token: Annotated[
        str | None, typer.Option("--authority-token", help="API token of the virtual account.")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="Smart account.")] = None,
    va: Annotated[str | None, typer.Option("--va", help="Virtual account.")] = None,
    disconnected: Annotated[
        bool, typer.Option("--disconnected", help="Work through files only.")
    ] = False,
    authority_keys: Annotated[
        Path | None,
        typer.Option("--authority-keys", help="The authority's key set file (trust anchor)."),
    ] = None,
    upload_every: Annotated[
        int,
        typer.Option(
            "--upload-every", help="Connected: send waiting reports every N seconds (0: never)."
        ),
    ] = 300,
    collect_every: Annotated[
        int, typer.Option("--collect-every", help="Collect Usage every N seconds (0: never).")
    ] = 0,
    as_json: AsJson = False,
) -> None:
    """Serve /cslu/v1/pi, /healthz and /metrics (preferences given here are kept)."""
    import uvicorn

    from smartlic.utility.app import create_app

    if authority and disconnected:
        raise typer.BadParameter("give --authority or --disconnected, not both")
    check_free(host, port, flag="--port")
    utility = Utility(data, db=db)
    utility.configure(
        connected=True if authority else (False if disconnected else None),
        authority_url=authority,
        authority_token=authority_token,
        account=account,
        va=va,
        authority_keys=authority_keys.read_bytes() if authority_keys else None,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(_JsonLogs())
    logger = logging.getLogger("smartlic.utility")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    stop = threading.Event()
    if collect_every > 0:

        def scheduled() -> None:
            while not stop.wait(collect_every):
                background = Utility(data, db=db)
                try:
                    background.collect()
                except Exception:  # the schedule must outlive one bad round
                    logger.exception("scheduled collection failed")
                finally:
                    background.close()

        threading.Thread(target=scheduled, daemon=True, name="collect").start()
    if upload_every > 0:

        def uploads() -> None:
            while not stop.wait(upload_every):
                background = Utility(data, db=db)
                try:
                    if background.connected and background.waiting():
                        background.upload_all()
                except Exception:
                    logger.exception("scheduled upload failed")
                finally:
                    background.close()

        threading.Thread(target=uploads, daemon=True, name="upload").start()
    base = announce.base_url("http", host, port)
    mode = utility.preferences()["mode"]
    emit(
        as_json,
        {"listening": base, "urls": announce.urls(base, URLS), **utility.preferences()},
        announce.lines(f"smartlic utility ({mode}) serving on {base}", base, URLS),
    )
    try:
        uvicorn.run(create_app(utility), host=host, port=port, log_level="warning")
    finally:
        stop.set()


@app.command()
@errors
def status(
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Preferences and counters."""
    with _opened(data, db) as utility:
        emit(as_json, utility.status())


@device_app.command("add")
@errors
def device_add(
    host: Annotated[str, typer.Option("--host")],
    port: Annotated[int, typer.Option("--port")],
    username: Annotated[str, typer.Option("--username")],
    password: Annotated[str, typer.Option("--password")],
    udi: Annotated[str | None, typer.Option("--udi", help="PID:<pid>,SN:<serial>")] = None,
    va: Annotated[
        str | None,
        typer.Option("--va", help="Its virtual account in usage files (default: the upload's)."),
    ] = None,
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Add (or update) one device; its password is stored encrypted."""
    with _opened(data, db) as utility:
        device = utility.add_device(host, port, username, password, udi, va=va)
    emit(as_json, device, f"device {device['host']}:{device['port']} added (id {device['id']})")


@device_app.command("import-csv")
@errors
def device_import_csv(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: host,port,udi,username,password",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Add many devices from a CSV file (all or nothing; a progress bar at a terminal)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError(
            f"{file} is not a UTF-8 text file", hint="Save the CSV as UTF-8 text."
        ) from None
    with _opened(data, db) as utility, _progress(as_json) as progress:
        devices = utility.import_csv(text, progress=_Bars(progress))
    emit(as_json, {"imported": len(devices)}, f"{len(devices)} device(s) imported")


@device_app.command("list")
@errors
def device_list(
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """The inventory with each device's last status and error."""
    with _opened(data, db) as utility:
        devices = utility.devices()
    if as_json:
        emit(True, devices)
        return
    table = Table("id", "address", "UDI", "status", "error")
    for d in devices:
        table.add_row(
            str(d["id"]), f"{d['host']}:{d['port']}", d["udi"] or "", d["status"], d["error"] or ""
        )
    console.print(table)


@device_app.command("remove")
@errors
def device_remove(
    device: Annotated[str, typer.Argument(help="id, host:port or UDI")],
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Remove a device from the inventory (its stored reports stay until acknowledged)."""
    with _opened(data, db) as utility:
        count = utility.remove_device(device)
    emit(as_json, {"removed": count}, f"{count} device(s) removed")


@app.command()
@errors
def collect(
    devices: Annotated[list[str] | None, typer.Argument(help="UDI, id or host:port")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every device in the inventory.")] = False,
    parallel: Annotated[int, typer.Option("--parallel", help="Devices at a time.")] = 8,
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Collect Usage: close-reports, all-reports, store, upload (connected), import the ACK."""
    if not devices and not all_:
        raise typer.BadParameter("name devices or give --all")
    chosen = None if all_ else list(devices or [])
    with _opened(data, db) as utility:
        total = len(utility.select_devices(chosen))
        with _progress(as_json) as progress:
            task = progress.add_task("Collecting usage", total=total)
            results = utility.collect(
                chosen, parallel=parallel, on_done=lambda _: progress.advance(task)
            )
    failed = [r for r in results if r["status"] not in ("ok", "waiting for ACK file")]
    if as_json:
        emit(True, {"devices": results, "failed": len(failed)})
    else:
        table = Table("device", "UDI", "collected", "acked", "status", "error")
        for r in results:
            table.add_row(
                r["device"],
                r["udi"] or "",
                str(r["collected"]),
                str(r["acked"]),
                r["status"],
                r["error"] or "",
            )
        console.print(table)
    if failed:
        raise typer.Exit(2)


@app.command()
@errors
def upload(
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Connected: send every stored, unacknowledged report to the authority now."""
    with _opened(data, db) as utility, _progress(as_json) as progress:
        progress.add_task("Uploading to the authority", total=None)
        result = utility.upload_all()
    emit(
        as_json,
        result,
        f"{result['uploaded']} report(s) uploaded, {result['acked']} acknowledged, "
        f"{result['waiting']} still waiting",
    )
    if result["failed"]:
        raise typer.Exit(2)


@app.command("download-all")
@errors
def download_all(
    file: Annotated[Path, typer.Argument(help="Where to write the usage file (tar.gz).")],
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Download All For Cisco: every unacknowledged report in one usage file.

    Shows a progress bar when run at a terminal (not with --json, not into a pipe).
    """
    if not file.parent.is_dir():
        raise typer.BadParameter(f"folder {file.parent} does not exist", param_hint="FILE")
    started = time.monotonic()
    with _opened(data, db) as utility, _progress(as_json) as progress:
        result = utility.download_all(file, progress=_Bars(progress))
    result["seconds"] = round(time.monotonic() - started, 3)
    emit(
        as_json,
        result,
        f"{result['reports']} report(s) of {result['instances']} instance(s) written to {file}",
    )


@app.command("upload-from")
@errors
def upload_from(
    file: Annotated[Path, typer.Argument(help="The ACK file from the authority (tar.gz).")],
    data: Data = _default_data(),  # noqa: B008
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Upload From Cisco: import an ACK file, then import the ACKs into pull devices.

    Shows progress bars (verify, import, deliver) at a terminal (not with --json or a pipe).
    """
    with _opened(data, db) as utility, _progress(as_json) as progress:
        bars = _Bars(progress)
        try:
            result = utility.upload_from(file, progress=bars)
        except SmartLicError as exc:
            exc.reason = f"nothing imported from {file}: {exc.reason}"
            raise
        result["delivered"] = utility.deliver_pending(progress=bars)
    emit(
        as_json,
        result,
        f"{result['acks']} ACK(s) imported, {result['reports_acked']} report(s) acknowledged, "
        f"{result['policies']} with a policy; {result['waiting']} report(s) still waiting",
    )
