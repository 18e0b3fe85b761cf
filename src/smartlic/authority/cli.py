"""``smartlic authority ...``: admin commands over the authority's services (thin).

Every command takes ``--data DIR`` (key store and default SQLite database), ``--db URL`` (any
SQLAlchemy URL) and ``--json``. Errors print ``diagnostics()`` and exit 1.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from smartlic.authority.accounts.repository import AccountRepository, Directory
from smartlic.authority.accounts.service import AccountService
from smartlic.authority.clock import SystemClock
from smartlic.authority.context import Authority
from smartlic.authority.db import make_engine, transaction
from smartlic.authority.migrate import current_revision, head_revision, upgrade
from smartlic.authority.settings import Settings
from smartlic.core.errors import ConfigurationError, FormatError, SmartLicError
from smartlic.support import announce
from smartlic.support.announce import AUTHORITY_URLS as URLS
from smartlic.support.listen import check_free

DATA_ENV = "SMARTLIC_AUTHORITY_DATA"
DB_ENV = "SMARTLIC_AUTHORITY_DB"
THREADS_ENV = "SMARTLIC_AUTHORITY_PROTOCOL_THREADS"

app = typer.Typer(
    name="authority",
    help="The licensing authority (CSSM role): accounts, tokens, policies, usage, SLACs, keys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
account_app = typer.Typer(help="Smart accounts.", no_args_is_help=True)
va_app = typer.Typer(help="Virtual accounts.", no_args_is_help=True)
purchase_app = typer.Typer(help="License purchases.", no_args_is_help=True)
token_app = typer.Typer(help="ID tokens (for trust).", no_args_is_help=True)
policy_app = typer.Typer(help="Custom policies and policy files.", no_args_is_help=True)
usage_app = typer.Typer(help="Usage files (air gap).", no_args_is_help=True)
slac_app = typer.Typer(help="Authorization codes (SLAC).", no_args_is_help=True)
apitoken_app = typer.Typer(help="API tokens for utilities and scripts.", no_args_is_help=True)
instance_app = typer.Typer(help="Product instances.", no_args_is_help=True)
keys_app = typer.Typer(help="The authority's keys and key sets.", no_args_is_help=True)
user_app = typer.Typer(help="Users (password login) and their roles.", no_args_is_help=True)
for sub, name in (
    (account_app, "account"),
    (va_app, "va"),
    (purchase_app, "purchase"),
    (token_app, "token"),
    (policy_app, "policy"),
    (usage_app, "usage"),
    (slac_app, "slac"),
    (apitoken_app, "apitoken"),
    (instance_app, "instance"),
    (keys_app, "keys"),
    (user_app, "user"),
):
    app.add_typer(sub, name=name)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

Data = Annotated[
    Path,
    typer.Option("--data", envvar=DATA_ENV, help="Data folder (keys, default database)."),
]
Db = Annotated[
    str | None,
    typer.Option("--db", envvar=DB_ENV, help="SQLAlchemy URL (default: SQLite in --data)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AccountOpt = Annotated[str, typer.Option("--account", help="Smart account name.")]
VaOpt = Annotated[str, typer.Option("--va", help="Virtual account name.")]
DEFAULT_DATA = Path("smartlic-authority")

F = TypeVar("F", bound=Callable[..., Any])


_opened: list[Authority] = []
"""Authorities opened by the command running now: their engines are disposed when it ends, so a
command run in process (tests, scripts) leaves no database connection behind."""


def errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark = len(_opened)
        try:
            return fn(*args, **kwargs)
        except SmartLicError as exc:
            err_console.print(f"[red]Error:[/red] {exc.diagnostics()}", highlight=False)
            raise typer.Exit(1) from None
        finally:
            while len(_opened) > mark:
                _opened.pop().engine.dispose()

    return wrapper  # type: ignore[return-value]


def emit(as_json: bool, obj: Any, text: str | None = None) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, sort_keys=True))
    else:
        console.print(text if text is not None else json.dumps(obj, indent=2), highlight=False)


def open_authority(data: Path, db: str | None) -> Authority:
    settings = Settings(data=data, db_url=db)
    keys = settings.keys
    if not keys.exists():
        raise ConfigurationError(
            f"no authority keys in {data}", hint="Run `smartlic authority init --data DIR` first."
        )
    authority = Authority.open(settings.url, keys)
    _opened.append(authority)
    if current_revision(authority.engine) != head_revision(authority.engine):
        raise ConfigurationError(
            "the database schema is not up to date",
            hint="Run `smartlic authority init` (it applies the migrations).",
        )
    return authority


def _account_id(authority: Authority, name: str) -> str:
    with authority.sessions() as s:
        return Directory(s).account_by_name(name).id


def _va_id(authority: Authority, account_id: str, name: str) -> str:
    with authority.sessions() as s:
        return AccountRepository(s, account_id).va_by_name(name).id


def open_account(data: Path, db: str | None, account: str) -> tuple[Authority, str]:
    """The authority and the id of one smart account, named as a user types it."""
    authority = open_authority(data, db)
    return authority, _account_id(authority, account)


def open_scope(data: Path, db: str | None, account: str, va: str) -> tuple[Authority, str, str]:
    """The authority and the ids of one virtual account, named as a user types them."""
    authority, account_id = open_account(data, db, account)
    return authority, account_id, _va_id(authority, account_id, va)


def _date(text: str) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise FormatError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return int(day.timestamp()) + 86_399


# --- init, serve ------------------------------------------------------------------------------


@app.command()
@errors
def init(data: Data = DEFAULT_DATA, db: Db = None, as_json: AsJson = False) -> None:
    """Create the data folder, the keys (root, signing, key set 1) and the database schema."""
    settings = Settings(data=data, db_url=db)
    data.mkdir(parents=True, exist_ok=True)
    created = settings.keys.init(SystemClock().now())
    engine = make_engine(settings.url)
    upgrade(engine)
    revision = current_revision(engine)
    engine.dispose()
    keyset = settings.keys.current()
    out = {
        "data": str(data),
        "keys_created": created,
        "keyset_version": keyset.version,
        "schema_revision": revision,
    }
    emit(
        as_json,
        out,
        f"Authority ready in {data}: key set version {keyset.version}, schema {revision}"
        + ("" if created else " (keys already existed)"),
    )


@app.command()
@errors
def serve(
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    protocol_threads: Annotated[
        int,
        typer.Option(
            help="Product-instance messages each worker works on at once (0: one per core); "
            "the rest wait their turn."
        ),
    ] = 0,
) -> None:
    """Serve the product-instance endpoints and the REST API."""
    import uvicorn

    if protocol_threads < 0:
        raise typer.BadParameter("--protocol-threads must be 0 (one per core) or more")
    open_authority(data, db).engine.dispose()
    os.environ[DATA_ENV] = str(data.resolve())
    if db:
        os.environ[DB_ENV] = db
    os.environ[THREADS_ENV] = str(protocol_threads)
    check_free(host, port, flag="--port")
    base = announce.base_url("http", host, port)
    emit(
        as_json,
        {"host": host, "port": port, "workers": workers, "urls": announce.urls(base, URLS)},
        announce.lines(f"smartlic authority serving on {base}", base, URLS),
    )
    uvicorn.run(
        "smartlic.authority.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,  # the app writes one JSON line per request itself
    )


# --- accounts ---------------------------------------------------------------------------------


@account_app.command("create")
@errors
def account_create(
    name: Annotated[str, typer.Argument(help="Smart account name.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority = open_authority(data, db)
    with transaction(authority.sessions) as s:
        row = AccountService(authority).create_account(s, name)
        out = {"id": row.id, "name": row.name}
    emit(as_json, out, f"Smart account {name} created ({out['id']})")


@account_app.command("list")
@errors
def account_list(data: Data = DEFAULT_DATA, db: Db = None, as_json: AsJson = False) -> None:
    authority = open_authority(data, db)
    with authority.sessions() as s:
        out = [{"id": a.id, "name": a.name} for a in Directory(s).accounts()]
    emit(as_json, out, "\n".join(a["name"] for a in out) or "(no smart accounts)")


@va_app.command("create")
@errors
def va_create(
    name: Annotated[str, typer.Argument(help="Virtual account name.")],
    account: AccountOpt,
    allow_export: Annotated[
        bool, typer.Option("--allow-export", help="Allow export-controlled SLACs.")
    ] = False,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority, account_id = open_account(data, db, account)
    with transaction(authority.sessions) as s:
        row = AccountService(authority).create_va(s, account_id, name, allow_export=allow_export)
        out = {"id": row.id, "name": row.name, "tenant_id": row.tenant_id}
    emit(as_json, out, f"Virtual account {name} created; tenant id {out['tenant_id']}")


@va_app.command("list")
@errors
def va_list(
    account: AccountOpt, data: Data = DEFAULT_DATA, db: Db = None, as_json: AsJson = False
) -> None:
    authority, account_id = open_account(data, db, account)
    with authority.sessions() as s:
        out = [
            {"id": v.id, "name": v.name, "tenant_id": v.tenant_id}
            for v in AccountRepository(s, account_id).vas()
        ]
    emit(as_json, out, "\n".join(f"{v['name']}  tenant {v['tenant_id']}" for v in out))


@purchase_app.command("add")
@errors
def purchase_add(
    account: AccountOpt,
    va: VaOpt,
    license_name: Annotated[str, typer.Option("--license", help="License name (catalog).")],
    count: Annotated[int, typer.Option("--count", help="How many.")],
    end: Annotated[str | None, typer.Option("--end", help="Subscription end (YYYY-MM-DD).")] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority, account_id, va_id = open_scope(data, db, account, va)
    end_at = _date(end) if end else None
    with transaction(authority.sessions) as s:
        row = AccountService(authority).add_purchase(
            s, account_id, va_id, license_name, count, end_at=end_at
        )
        out = {"id": row.id, "license": row.license_name, "count": row.count, "end_at": end_at}
    emit(as_json, out, f"Added {count} x {row.license_name} to {va}")


@purchase_app.command("transfer")
@errors
def purchase_transfer(
    account: AccountOpt,
    from_va: Annotated[str, typer.Option("--from", help="Source virtual account.")],
    to_va: Annotated[str, typer.Option("--to", help="Target virtual account.")],
    license_name: Annotated[str, typer.Option("--license", help="License name (catalog).")],
    count: Annotated[int, typer.Option("--count", help="How many.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Move licenses between virtual accounts (never below what the source issued or uses)."""
    authority, account_id, source = open_scope(data, db, account, from_va)
    target = _va_id(authority, account_id, to_va)
    with transaction(authority.sessions) as s:
        moved = AccountService(authority).transfer(
            s, account_id, source, target, license_name, count
        )
        out = {
            "from": from_va,
            "to": to_va,
            "license": moved[0].license_name,
            "count": count,
            "purchases": [{"id": p.id, "count": p.count, "end_at": p.end_at} for p in moved],
        }
    emit(as_json, out, f"Moved {count} x {out['license']} from {from_va} to {to_va}")


@user_app.command("create")
@errors
def user_create(
    account: AccountOpt,
    username: Annotated[str, typer.Option("--username", help="Login name.")],
    password: Annotated[
        str, typer.Option("--password", help="At least 8 characters (stored scrypt-hashed).")
    ],
    role: Annotated[str, typer.Option("--role", help="admin, va-user or read-only.")],
    va: Annotated[
        list[str] | None,
        typer.Option("--va", help="A va-user's virtual account (repeat for several)."),
    ] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Create a user who logs in with a password (``POST /api/v1/login``)."""
    authority, account_id = open_account(data, db, account)
    va_ids = [_va_id(authority, account_id, name) for name in va or []]
    with transaction(authority.sessions) as s:
        row = AccountService(authority).create_user(
            s, account_id, username, password, role, va_ids=va_ids
        )
        out = {"id": row.id, "username": row.username, "role": row.role, "vas": va or []}
    emit(as_json, out, f"User {username} ({role}) created in {account}")


@user_app.command("list")
@errors
def user_list(
    account: AccountOpt, data: Data = DEFAULT_DATA, db: Db = None, as_json: AsJson = False
) -> None:
    authority, account_id = open_account(data, db, account)
    service = AccountService(authority)
    with authority.sessions() as s:
        names = {v.id: v.name for v in AccountRepository(s, account_id).vas()}
        out = [
            {
                "id": u.id,
                "username": u.username,
                "role": u.role,
                "vas": sorted(names[v] for v in service.user_vas(s, u) or ()),
            }
            for u in AccountRepository(s, account_id).users()
        ]
    emit(as_json, out, "\n".join(f"{u['username']}  {u['role']}" for u in out) or "(no users)")


# --- tokens -----------------------------------------------------------------------------------


@token_app.command("create")
@errors
def token_create(
    account: AccountOpt,
    va: VaOpt,
    expires_days: Annotated[int, typer.Option("--expires-days", help="1..365")] = 30,
    max_uses: Annotated[int | None, typer.Option("--max-uses")] = None,
    export_controlled: Annotated[
        bool, typer.Option("--export-controlled", help="Allow export-controlled functionality.")
    ] = False,
    description: Annotated[str, typer.Option("--description")] = "",
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Create an ID token and print it (it is stored hashed: it cannot be shown again)."""
    authority, account_id, va_id = open_scope(data, db, account, va)
    with transaction(authority.sessions) as s:
        new = AccountService(authority).create_id_token(
            s,
            account_id,
            va_id,
            expires_days=expires_days,
            max_uses=max_uses,
            allow_export=export_controlled,
            description=description,
        )
    emit(as_json, {"id": new.row_id, "token": new.token, "expires_at": new.expires_at}, new.token)


@token_app.command("revoke")
@errors
def token_revoke(
    account: AccountOpt,
    token_id: Annotated[str, typer.Argument(help="The ID token's id (from token list).")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority, account_id = open_account(data, db, account)
    with transaction(authority.sessions) as s:
        row = AccountService(authority).revoke_id_token(s, account_id, token_id)
        out = {"id": row.id, "revoked_at": row.revoked_at}
    emit(as_json, out, f"ID token {token_id} revoked")


@token_app.command("list")
@errors
def token_list(
    account: AccountOpt, data: Data = DEFAULT_DATA, db: Db = None, as_json: AsJson = False
) -> None:
    authority, account_id = open_account(data, db, account)
    with authority.sessions() as s:
        out = [
            {
                "id": t.id,
                "va_id": t.va_id,
                "expires_at": t.expires_at,
                "uses": t.uses,
                "max_uses": t.max_uses,
                "revoked": t.revoked_at is not None,
            }
            for t in AccountRepository(s, account_id).id_tokens()
        ]
    emit(as_json, out)


@apitoken_app.command("create")
@errors
def apitoken_create(
    account: Annotated[str | None, typer.Option("--account", help="Smart account name.")] = None,
    va: Annotated[str | None, typer.Option("--va", help="Limit to one virtual account.")] = None,
    role: Annotated[str, typer.Option("--role", help="admin, va-user or read-only")] = "admin",
    operator: Annotated[
        bool, typer.Option("--operator", help="A token that may create smart accounts.")
    ] = False,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Create an API token (Authorization: Bearer) and print it."""
    authority = open_authority(data, db)
    if operator:
        account_id, va_id, role = None, None, "operator"
    else:
        if account is None:
            raise FormatError("--account is required (or --operator)")
        account_id = _account_id(authority, account)
        va_id = _va_id(authority, account_id, va) if va else None
    with transaction(authority.sessions) as s:
        new = AccountService(authority).create_api_token(s, account_id, va_id=va_id, role=role)
    emit(as_json, {"id": new.row_id, "token": new.token, "role": role}, new.token)


# The remaining commands live in cli_more (kept apart to keep files short); importing it
# registers them on the Typer apps above.
from smartlic.authority import cli_more  # noqa: E402, F401
