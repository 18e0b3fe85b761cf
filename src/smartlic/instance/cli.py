"""``smartlic instance ...``: run one product instance, and a few commands useful before the
device shell exists. The lead wires ``app`` into the ``smartlic`` command."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from smartlic.core import xmlfile
from smartlic.core.errors import SmartLicError
from smartlic.core.timefmt import device_time
from smartlic.core.udi import HaSet, Udi
from smartlic.instance.agent import Agent, Identity
from smartlic.instance.records import AuthorizationEntry
from smartlic.instance.schedule import scheduled_job_lines
from smartlic.instance.store import DB_NAME, Store
from smartlic.support.announce import base_url
from smartlic.support.listen import bind, check_free, port_of

app = typer.Typer(
    name="instance",
    help="A product instance (device side of SLP): run it, inspect its state.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

DEFAULT_HTTP_PORT = 8443
"""The port of a device's web services (RESTCONF and the REST API) on IOS XE."""

StateOpt = Annotated[Path, typer.Option("--state", help="The instance's state folder.")]


def _open(
    state: Path,
    udi: str | None = None,
    hostname: str | None = None,
    authority_keys: Path | None = None,
    ha: str | None = None,
    on_message: bool = False,
    start: bool = True,
) -> Agent:
    identity = None
    if udi is not None:
        parsed = Udi.parse(udi)
        identity = Identity(
            parsed,
            hostname or _stored_hostname(state) or "Router",
            ha=HaSet.parse(ha) if ha is not None else None,
        )
    anchor = None
    if authority_keys is not None:
        envelopes = xmlfile.read(authority_keys.read_bytes())
        anchor = envelopes[0]
    printer = (lambda entry: typer.echo(entry.console_line())) if on_message else None
    if not start:  # read-only look: no reload, so reports stay open
        return Agent(state, identity, anchor=anchor, on_message=printer)
    return Agent.open(state, identity, anchor=anchor, on_message=printer)


def _stored_hostname(state: Path) -> str | None:
    """The hostname a state folder already has (``hostname X`` in the shell changed it)."""
    if not (state / DB_NAME).exists():
        return None
    store = Store(state)
    try:
        stored = store.get("identity")
    finally:
        store.close()
    return None if stored is None else str(stored.get("hostname") or "") or None


def _authorization_lines(entry: AuthorizationEntry) -> list[str]:
    if entry.installed_at is None:
        return [f"  {entry.role}: {entry.udi}: not installed"]
    counts = ", ".join(f"{name} {count}" for name, count in entry.licenses) or "no licenses"
    lines = [
        f"  {entry.role}: {entry.udi}: installed {device_time(entry.installed_at)} ({counts})",
        f"    Last confirmation code: {entry.confirmation_code or '<none>'}",
    ]
    if entry.return_pending:
        lines.append("    Return: pending confirmation")
    return lines


def _fail(exc: SmartLicError) -> None:
    err_console.print(f"[red]Error:[/red] {exc.diagnostics()}", markup=True)
    raise typer.Exit(1)


@app.command()
def run(
    state: StateOpt,
    udi: Annotated[str | None, typer.Option(help="UDI, e.g. PID:C9300-24UX,SN:FCW2303D16Y")] = None,
    hostname: Annotated[str | None, typer.Option(help="Hostname.")] = None,
    ha: Annotated[str | None, typer.Option(help="HA set, e.g. 'Active:PID:..,SN:..'.")] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            help=f"Port of the device REST API (default {DEFAULT_HTTP_PORT}, or a free port, "
            "printed, when another device on this machine has it)."
        ),
    ] = None,
    http_host: Annotated[str, typer.Option(help="Address of the device REST API.")] = "127.0.0.1",
    authority_keys: Annotated[
        Path | None, typer.Option(help="The authority's key set file (trust anchor).")
    ] = None,
    username: Annotated[str, typer.Option(help="REST API and SSH user.")] = "admin",
    password: Annotated[
        str | None,
        typer.Option(help="REST API and SSH password (default: a random one, printed)."),
    ] = None,
    ssh_port: Annotated[
        int | None, typer.Option(help="Also serve the device shell over SSH on this port.")
    ] = None,
    enable_secret: Annotated[
        str | None,
        typer.Option(help="Secret asked by 'enable' over SSH (default: the password)."),
    ] = None,
) -> None:
    """Run one product instance: scheduler, device REST API (/smartlic-service) and, with
    --ssh-port, the IOS-style device shell over SSH (same user and password)."""
    from smartlic.instance.daemon import serve

    if password is None:
        password = secrets.token_urlsafe(12)
        typer.echo(f"REST API user {username}, password {password}")
    if enable_secret is None:
        enable_secret = password

    try:
        # Ports first: a port in use is refused before anything starts, naming its flag.
        if ssh_port is not None:
            check_free(http_host, ssh_port, flag="--ssh-port")
        http_socket = bind(http_host, http_port, flag="--http-port", default=DEFAULT_HTTP_PORT)
    except SmartLicError as exc:
        _fail(exc)
        return
    bound = port_of(http_socket)
    if http_port is None and bound != DEFAULT_HTTP_PORT:
        typer.echo(f"port {DEFAULT_HTTP_PORT} is taken; the REST API takes {bound} (--http-port)")
    try:
        agent = _open(state, udi, hostname, authority_keys, ha, on_message=True)
    except SmartLicError as exc:
        http_socket.close()
        _fail(exc)
        return
    typer.echo(
        f"product instance {agent.udi} ({agent.identity.hostname}); REST API on "
        f"{base_url('http', http_host, bound)}/smartlic-service"
        + ("" if ssh_port is None else f"; SSH on {http_host}:{ssh_port}")
    )
    try:
        asyncio.run(
            serve(
                agent,
                host=http_host,
                port=bound,
                http_socket=http_socket,
                username=username,
                password=password,
                ssh_port=ssh_port,
                enable_secret=enable_secret,
            )
        )
    except KeyboardInterrupt:
        pass
    finally:
        agent.close()


@app.command()
def status(
    state: StateOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Identity, transport, policy, deadlines, usage and report counters of an instance."""
    if not (state / "instance.db").exists():
        err_console.print(f"Error: {state} holds no product instance state")
        raise typer.Exit(1)
    try:
        agent = _open(state, start=False)
    except SmartLicError as exc:
        _fail(exc)
        return
    try:
        info = agent.status()
        if as_json:
            console.print_json(json.dumps(info.to_json()))
            return
        lines = [
            f"UDI: {info.udi}",
            f"Hostname: {info.hostname}",
            *(f"HA member: {member}" for member in info.ha_udis),
            f"Transport: {info.transport}" + (f" ({info.url})" if info.url else ""),
            f"Trust code installed: {'yes' if info.trust_installed else 'no'}",
            "Trust:",
            *(
                f"  {t.role}: {t.udi}: "
                + ("not installed" if t.installed_at is None else device_time(t.installed_at))
                for t in info.trust
            ),
            "Authorizations:",
            *(line for a in info.authorizations for line in _authorization_lines(a)),
            *info.policy_lines,
            f"Next ACK deadline: {device_time(info.next_ack_deadline)}",
            f"Next report push: {device_time(info.next_report_push)}",
            *([] if info.usage_reporting is None else info.usage_reporting.lines()),
            "Licenses:",
            *[f"  {u['name']} ({u['count']}): {u['status']}" for u in info.licenses],
            *info.summary.lines(),
            *scheduled_job_lines(info.now, list(info.jobs)),
        ]
        if info.clock_backwards:
            lines.append("Clock: behind the latest signed time accepted")
        typer.echo("\n".join(lines))
    finally:
        agent.close()


@app.command()
def shell(
    state: StateOpt,
    udi: Annotated[
        str | None, typer.Option(help="UDI (first start of a new state folder).")
    ] = None,
    hostname: Annotated[str | None, typer.Option(help="Hostname.")] = None,
    authority_keys: Annotated[
        Path | None, typer.Option(help="The authority's key set file (trust anchor).")
    ] = None,
    enable_secret: Annotated[
        str | None, typer.Option(help="Secret asked by 'enable' (default: none asked).")
    ] = None,
) -> None:
    """The IOS-style command line of an instance on this terminal (reads commands from stdin
    when it is not a terminal). Do not run it while `run` serves the same state folder."""
    from smartlic.instance.shell.repl import run_repl

    try:
        agent = _open(state, udi, hostname, authority_keys)
    except SmartLicError as exc:
        _fail(exc)
        return
    try:
        code = run_repl(agent, hostname=hostname, enable_secret=enable_secret)
    finally:
        agent.close()
    raise typer.Exit(code)
