"""More ``smartlic authority`` commands: policies, files, SLACs, instances, keys, compliance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartlic.authority.accounts.repository import AccountRepository
from smartlic.authority.api.rest_files import parse_return_code
from smartlic.authority.authorization.repository import CodeRepository
from smartlic.authority.authorization.service import AuthorizationService
from smartlic.authority.cli import (
    DEFAULT_DATA,
    AccountOpt,
    AsJson,
    Data,
    Db,
    VaOpt,
    _va_id,
    app,
    emit,
    errors,
    instance_app,
    keys_app,
    open_account,
    open_authority,
    open_scope,
    policy_app,
    slac_app,
    usage_app,
)
from smartlic.authority.db import retrying, transaction
from smartlic.authority.keystore import KeyStore, write_atomic
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.settings import Settings
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.usage.compliance import compliance as compliance_rows
from smartlic.authority.usage.compliance import to_csv
from smartlic.authority.usage.service import UsageService
from smartlic.core import jsonio, xmlfile
from smartlic.core.artifacts import AuthorizationCode
from smartlic.core.envelope import Envelope
from smartlic.core.errors import ConfigurationError, FormatError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import ClassOverrides
from smartlic.core.timefmt import device_time
from smartlic.core.udi import Udi

RuleOpt = Annotated[str | None, typer.Option(help="FIRST,FREQ,CHANGE in days; '-' keeps a value.")]


def _rules(text: str | None, what: str) -> ClassOverrides | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise FormatError(f"--{what}: expected FIRST,FREQ,CHANGE (three values), got {text!r}")
    values: list[int | None] = []
    for part in parts:
        if part in ("", "-"):
            values.append(None)
        elif part.isdigit():
            values.append(int(part))
        else:
            raise FormatError(f"--{what}: {part!r} is not a number of days")
    try:
        return ClassOverrides(*values)
    except ValueError as exc:
        raise FormatError(f"--{what}: {exc}") from None


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data, 0o644)


@policy_app.command("create")
@errors
def policy_create(
    account: AccountOpt,
    name: Annotated[str, typer.Option("--name", help="Policy name.")],
    va: Annotated[str | None, typer.Option("--va", help="Assign to this virtual account.")] = None,
    unenforced_perpetual: RuleOpt = None,
    unenforced_subscription: RuleOpt = None,
    enforced: RuleOpt = None,
    export: RuleOpt = None,
    ack_required: Annotated[bool | None, typer.Option("--ack-required/--no-ack-required")] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Create a custom policy for a smart account (or one of its virtual accounts)."""
    authority, account_id = open_account(data, db, account)
    va_id = _va_id(authority, account_id, va) if va else None
    rules: dict[PolicyClass, ClassOverrides] = {}
    for cls, text in (
        (PolicyClass.UNENFORCED_PERPETUAL, unenforced_perpetual),
        (PolicyClass.UNENFORCED_SUBSCRIPTION, unenforced_subscription),
        (PolicyClass.ENFORCED, enforced),
        (PolicyClass.EXPORT, export),
    ):
        overrides = _rules(text, cls.value.replace("_", "-"))
        if overrides is not None:
            rules[cls] = overrides
    with transaction(authority.sessions) as s:
        row = PolicyService(authority).create(
            s, account_id, name, va_id=va_id, rules=rules, ack_required=ack_required
        )
        out = {"id": row.id, "name": row.name, "serial": row.serial, "spec": jsonio.loads(row.spec)}
    emit(as_json, out, f"Policy {name} (serial {out['serial']}) created")


@policy_app.command("file")
@errors
def policy_file(
    account: AccountOpt,
    out: Annotated[Path, typer.Argument(help="Where to write the policy file.")],
    va: Annotated[
        str | None,
        typer.Option("--va", help="Virtual account (optional with --udi of a known instance)."),
    ] = None,
    udi: Annotated[str | None, typer.Option("--udi", help="Pin the policy to one UDI.")] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Write the policy in force for a virtual account (or one UDI) as a policy file."""
    if va is None and udi is None:
        raise FormatError("give --va, --udi, or both")
    authority, account_id = open_account(data, db, account)
    pinned = Udi.parse(udi) if udi else None
    with authority.sessions() as s:
        if va is not None:
            va_id = _va_id(authority, account_id, va)
        else:
            va_id = InstanceService().find(s, account_id, str(pinned)).va_id
        current, envelope = PolicyService(authority).grant(s, account_id, va_id, pinned)
    _write(out, xmlfile.write([envelope]))
    emit(
        as_json,
        {"file": str(out), "policy": current.policy.name, "source": current.source},
        f"Policy file written to {out} ({current.policy.name or 'Cisco default'})",
    )


@usage_app.command("upload")
@errors
def usage_upload(
    account: AccountOpt,
    va: VaOpt,
    file: Annotated[
        Path,
        typer.Argument(help="A utility's usage file (tar.gz) or a device's `save usage` file."),
    ],
    ack: Annotated[Path, typer.Option("--ack", help="Where to write the ACK file.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Ingest a usage file and write the ACK file for it (the manual upload of the air gap).

    A tar.gz usage bundle gets an ACK bundle; a product instance's own ``license smart save
    usage`` file (``<smartLicense>`` XML) gets a ``<smartLicense>`` ACK file to import on it.
    """
    authority, account_id, va_id = open_scope(data, db, account, va)
    raw = file.read_bytes()
    ack_file, form = retrying(
        authority.sessions,
        lambda s: UsageService(authority).upload(s, account_id, va_id, raw),
    )
    _write(ack, ack_file)
    emit(
        as_json,
        {"ack": str(ack), "bytes": len(ack_file), "form": form},
        f"ACK file written to {ack} ({'tar.gz' if form == 'gzip' else '<smartLicense> XML'})",
    )


@slac_app.command("create")
@errors
def slac_create(
    account: AccountOpt,
    va: VaOpt,
    udi: Annotated[str, typer.Option("--udi", help="PID:<pid>,SN:<serial>")],
    license_name: Annotated[str, typer.Option("--license", help="License name.")],
    out: Annotated[Path, typer.Argument(help="Where to write the authorization-code file.")],
    count: Annotated[int, typer.Option("--count")] = 1,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Issue an authorization code for a UDI (offline) and write it as a file."""
    authority, account_id, va_id = open_scope(data, db, account, va)
    with transaction(authority.sessions) as s:
        envelope = AuthorizationService(authority).issue(
            s, account_id, va_id, Udi.parse(udi), license_name, count
        )
    _write(out, xmlfile.write([envelope]))
    code = AuthorizationCode.from_json(envelope.payload_json())
    emit(
        as_json,
        {"file": str(out), "code_id": code.code_id, "confirmation_code": code.confirmation_code},
        f"Authorization code {code.code_id} written to {out}",
    )


@slac_app.command("file")
@errors
def slac_file(
    account: AccountOpt,
    code_id: Annotated[str, typer.Argument(help="The authorization code's id.")],
    out: Annotated[Path, typer.Argument(help="Where to write the authorization-code file.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Write an issued authorization code again as a file (to import on the instance)."""
    authority, account_id = open_account(data, db, account)
    with authority.sessions() as s:
        row = CodeRepository(s, account_id).get(code_id)
        envelope = Envelope.parse(row.envelope)
        info = {
            "file": str(out),
            "code_id": row.code_id,
            "udi": row.udi,
            "license": row.license_name,
        }
    _write(out, xmlfile.write([envelope]))
    emit(as_json, info, f"Authorization code {code_id} written to {out}")


@slac_app.command("list")
@errors
def slac_list(
    account: AccountOpt,
    va: Annotated[str | None, typer.Option("--va")] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Authorization codes issued in the smart account (or one virtual account)."""
    authority, account_id = open_account(data, db, account)
    va_id = _va_id(authority, account_id, va) if va else None
    with authority.sessions() as s:
        out = [
            {
                "code_id": r.code_id,
                "udi": r.udi,
                "license": r.license_name,
                "count": r.count,
                "returned": r.returned_at is not None,
            }
            for r in CodeRepository(s, account_id).all(va_id)
        ]
    text = "\n".join(f"{c['code_id']}  {c['udi']}  {c['license']} x{c['count']}" for c in out)
    emit(as_json, out, text or "(no authorization codes)")


@slac_app.command("return")
@errors
def slac_return(
    account: AccountOpt,
    code: Annotated[str, typer.Argument(help="The return code: a file, or its text.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Take back an authorization code with the instance's return code (frees the count)."""
    authority, account_id = open_account(data, db, account)
    path = Path(code)
    raw = path.read_bytes() if len(code) < 4096 and path.is_file() else code.encode()
    envelope = parse_return_code(raw)
    with transaction(authority.sessions) as s:
        row = AuthorizationService(authority).give_back(s, account_id, envelope)
        out = {"code_id": row.code_id, "udi": row.udi, "license": row.license_name}
    emit(as_json, out, f"Authorization code {out['code_id']} returned; {row.count} freed")


@instance_app.command("list")
@errors
def instance_list(
    account: AccountOpt,
    va: Annotated[str | None, typer.Option("--va")] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority, account_id = open_account(data, db, account)
    va_id = _va_id(authority, account_id, va) if va else None
    with authority.sessions() as s:
        rows, _ = InstanceService().list(s, account_id, va_id)
    text = "\n".join(f"{r['udi']}  {r['virtual_account']}  {r['trust']}" for r in rows)
    emit(as_json, rows, text or "(no product instances)")


@instance_app.command("show")
@errors
def instance_show(
    account: AccountOpt,
    ref: Annotated[str, typer.Argument(help="UDI or id.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority, account_id = open_account(data, db, account)
    with authority.sessions() as s:
        emit(as_json, InstanceService().show(s, account_id, ref))


@instance_app.command("remove")
@errors
def instance_remove(
    account: AccountOpt,
    ref: Annotated[str, typer.Argument(help="UDI or id.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    authority, account_id = open_account(data, db, account)
    with transaction(authority.sessions) as s:
        InstanceService().remove(s, account_id, ref, authority.now())
    emit(as_json, {"removed": ref}, f"Product instance {ref} removed")


@keys_app.command("show")
@errors
def keys_show(
    anchor: Annotated[
        Path | None, typer.Option("--anchor", help="Write the key-set anchor file here.")
    ] = None,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Show the key sets; ``--anchor`` writes key set 1, the trust anchor instances need."""
    keys = Settings(data=data, db_url=db).keys
    if not keys.exists():
        raise ConfigurationError(f"no authority keys in {data}", hint="Run init first.")
    if anchor is not None:
        _write(anchor, xmlfile.write([keys.anchor()]))
    current = keys.current()
    out = _keyset_json(keys)
    out["anchor_file"] = str(anchor) if anchor else None
    lines = [f"Key set version {current.version}, root {current.root.key_id[:16]}..."]
    lines += [
        f"  signing key {e.key.key_id[:16]}... valid {device_time(e.not_before)} "
        f"to {device_time(e.not_after)}"
        for e in current.keys
    ]
    emit(as_json, out, "\n".join(lines))


def _keyset_json(keys: KeyStore) -> dict[str, object]:
    current = keys.current()
    return {
        "version": current.version,
        "root": current.root.key_id,
        "keys": [
            {"key_id": e.key.key_id, "not_before": e.not_before, "not_after": e.not_after}
            for e in current.keys
        ],
        "chain": len(keys.chain()),
    }


@keys_app.command("rotate")
@errors
def keys_rotate(data: Data = DEFAULT_DATA, db: Db = None, as_json: AsJson = False) -> None:
    """Publish key set N+1, signed by the root of N, with a new signing key."""
    authority = open_authority(data, db)
    keyset = authority.keys.rotate(authority.now())
    emit(as_json, _keyset_json(authority.keys), f"Key set version {keyset.version} published")


@app.command("compliance")
@errors
def compliance(
    account: AccountOpt,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Per virtual account and license: in use vs purchased, and the shortfall."""
    authority, account_id = open_account(data, db, account)
    with authority.sessions() as s:
        AccountRepository(s, account_id).account()
        rows = compliance_rows(s, account_id, authority.now())
    if csv:
        print(to_csv(rows), end="")
        return
    text = "\n".join(
        f"{r.virtual_account:20} {r.license_name:24} in use {r.in_use:>5}  purchased "
        f"{r.purchased:>5}  shortfall {r.shortfall:>5}"
        for r in rows
    )
    emit(as_json, [r.to_json() for r in rows], text or "(nothing in use or purchased)")
