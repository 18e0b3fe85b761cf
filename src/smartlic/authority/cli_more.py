"""More ``smartlic authority`` commands: policies, files and uploads, trust files, SLACs,
instances, keys, compliance."""

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
from smartlic.authority.db import transaction
from smartlic.authority.keystore import KeyStore, write_atomic
from smartlic.authority.policy.service import PolicyService
from smartlic.authority.settings import Settings
from smartlic.authority.trust.instances import InstanceService
from smartlic.authority.uploads.models import Upload, UploadKind, UploadStatus
from smartlic.authority.uploads.repository import UploadRepository
from smartlic.authority.uploads.service import UploadService, recognise, refusal_of, result_of
from smartlic.authority.usage.compliance import compliance as compliance_rows
from smartlic.authority.usage.compliance import to_csv
from smartlic.core import jsonio, xmlfile
from smartlic.core.artifacts import AuthorizationCode, TrustCode
from smartlic.core.envelope import ArtifactType, Envelope
from smartlic.core.errors import ArtifactTypeError, ConfigurationError, FormatError, NotFoundError
from smartlic.core.license_class import PolicyClass
from smartlic.core.policy import ClassOverrides
from smartlic.core.timefmt import device_time
from smartlic.core.udi import Udi

trust_app = typer.Typer(help="Trust codes across the air gap.", no_args_is_help=True)
upload_app = typer.Typer(help="Uploaded files, their status and answer.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")
app.add_typer(upload_app, name="upload")

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
    row = _upload(data, db, account, va, file, {UploadKind.USAGE_BUNDLE, UploadKind.USAGE_XML})
    body, _, media_type = result_of(row)
    _write(ack, body)
    form = "gzip" if media_type == "application/gzip" else "xml"
    emit(
        as_json,
        {"ack": str(ack), "bytes": len(body), "form": form, "upload": row.id},
        f"ACK file written to {ack} ({'tar.gz' if form == 'gzip' else '<smartLicense> XML'})",
    )


def _upload(
    data: Path, db: str | None, account: str, va: str, file: Path, kinds: set[UploadKind]
) -> Upload:
    """One stored upload, as the portal and API make it, refused unless of ``kinds``."""
    authority, account_id, va_id = open_scope(data, db, account, va)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read {file}: {exc.strerror}") from None
    kind = recognise(raw).kind
    if kind not in kinds:
        wanted = " or ".join(sorted(k.value for k in kinds))
        raise ArtifactTypeError(
            f"{file} is a {kind.value} file, not a {wanted} file",
            hint="`smartlic authority usage upload` takes usage files, `smartlic authority "
            "trust issue-file` trust request files.",
        )
    row = UploadService(authority).submit(account_id, va_id, raw, actor="cli", file_name=file.name)
    if row.status != UploadStatus.PROCESSED:
        raise refusal_of(row)
    return row


@trust_app.command("issue-file")
@errors
def trust_issue_file(
    account: AccountOpt,
    va: VaOpt,
    request: Annotated[
        Path,
        typer.Option("--request", help="The file of `license smart save trust-request`."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the trust code file.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Issue the trust codes of a saved trust request file (trust across the air gap).

    No ID token: naming the account and virtual account here vouches for the product instances,
    which must not be registered in another one. Write the answer to import with ``license
    smart import``; the same request file again gives the same file.
    """
    row = _upload(data, db, account, va, request, {UploadKind.TRUST_REQUEST})
    body, _, _ = result_of(row)
    _write(out, body)
    udis = [
        str(TrustCode.from_json(e.payload_json()).udi)
        for e in xmlfile.read(body)
        if e.type is ArtifactType.TRUST_CODE
    ]
    emit(
        as_json,
        {"file": str(out), "upload": row.id, "udis": udis},
        f"Trust code file for {', '.join(udis)} written to {out}",
    )


@upload_app.command("result")
@errors
def upload_result(
    account: AccountOpt,
    upload_id: Annotated[str, typer.Argument(help="The upload's id (`upload list`).")],
    out: Annotated[Path, typer.Argument(help="Where to write its answer file.")],
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Write the stored answer of an upload again (its ACK file or trust-code file)."""
    authority, account_id = open_account(data, db, account)
    with authority.sessions() as s:
        body, name, media_type = result_of(UploadRepository(s, account_id).get(upload_id))
    _write(out, body)
    emit(
        as_json,
        {"file": str(out), "name": name, "media_type": media_type, "bytes": len(body)},
        f"{name} written to {out}",
    )


@upload_app.command("list")
@errors
def upload_list(
    account: AccountOpt,
    va: Annotated[str | None, typer.Option("--va", help="Only this virtual account.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    data: Data = DEFAULT_DATA,
    db: Db = None,
    as_json: AsJson = False,
) -> None:
    """Recent uploads (newest first): kind, status, and why a failed one was refused."""
    authority, account_id = open_account(data, db, account)
    va_id = _va_id(authority, account_id, va) if va else None
    with authority.sessions() as s:
        rows, total = UploadRepository(s, account_id).page(va_id, limit=limit)
        items = [
            {
                "id": r.id,
                "file_name": r.file_name,
                "kind": r.kind,
                "status": r.status,
                "uploaded_at": r.uploaded_at,
                "error": r.error,
                "result_name": r.result_name,
            }
            for r in rows
        ]
        lines = [
            f"{device_time(r.uploaded_at)}  {r.status:<10} {r.kind:<14} {r.file_name}"
            + (f"  ({r.error})" if r.error else "")
            for r in rows
        ]
    emit(as_json, {"items": items, "total": total}, "\n".join(lines) or "No uploads.")


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
