"""The ``smartlic`` command: thin — it parses arguments, calls services and prints.

Errors from smartlic are printed with their ``diagnostics()`` (what failed, what to do) and exit
with status 1; a traceback means a bug.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from smartlic import __version__
from smartlic.core import sysmsg, xmlfile
from smartlic.core.errors import SmartLicError

ROLE_GROUPS: dict[str, tuple[str, str]] = {
    "instance": ("smartlic.instance.cli", "Run and inspect a product instance."),
    "authority": ("smartlic.authority.cli", "Run and administer the authority (CSSM role)."),
    "utility": ("smartlic.utility.cli", "Run the utility (CSLU role)."),
    "lab": ("smartlic.lab.cli", "Fleets of emulated product instances and scenarios."),
}
"""Each role ships its own command group; this module only mounts them, by name."""


class _RoleGroups(TyperGroup):
    """The role groups are imported when named, not at start: a role pulls in its web
    framework, database layer and SSH server, which cost seconds before even ``--help``.
    (Typer vendors its own click, so the hooks are typed loosely rather than by its private
    module.)"""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *ROLE_GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in ROLE_GROUPS:
            return super().get_command(ctx, cmd_name)
        module, help_text = ROLE_GROUPS[cmd_name]
        command = typer.main.get_command(importlib.import_module(module).app)
        command.help = help_text
        command.name = cmd_name
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The listing from the short help texts, without importing a role."""
        rows = []
        for name in super().list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width)))
        rows += [(name, help_text) for name, (_, help_text) in ROLE_GROUPS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="smartlic",
    help=(
        "Smart Licensing Using Policy, open: product instances, the utility (CSLU role) and "
        "the authority (CSSM role). Start with `smartlic demo`."
    ),
    cls=_RoleGroups,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"smartlic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Smart Licensing Using Policy: product instance, utility and authority."""


@app.command()
def demo() -> None:
    """A narrated tour of the core artifacts in one process (`smartlic lab demo` runs a fleet)."""
    from smartlic.walkthrough import run

    run(console)


@app.command()
def inspect(
    file: Annotated[Path, typer.Argument(help="An SLP file: RUM report, ACK, policy, ...")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show what an SLP XML file holds (types, signers, payloads), without installing it.

    Signatures are not checked here: use the product instance's ``license smart import`` or
    the authority to verify and install.
    """
    envelopes = xmlfile.read(file.read_bytes())
    if as_json:
        out = [
            {"type": e.type.value, "signature": e.signature.to_json(), "payload": e.payload_json()}
            for e in envelopes
        ]
        console.print_json(json.dumps(out))
        return
    table = Table(title=f"{file.name}: {len(envelopes)} artifact(s)")
    table.add_column("#", justify="right")
    table.add_column("type")
    table.add_column("signing type")
    table.add_column("key id")
    table.add_column("payload bytes", justify="right")
    for index, envelope in enumerate(envelopes, 1):
        table.add_row(
            str(index),
            envelope.type.value,
            envelope.signature.signing_type.value,
            envelope.signature.key[:16] + "...",
            str(len(envelope.payload_bytes)),
        )
    console.print(table)


@app.command()
def messages(
    mnemonic: Annotated[
        str | None, typer.Argument(help="e.g. TRUST_CODE_INSTALL_FAILED; omit to list all.")
    ] = None,
) -> None:
    """Explain the %SMART_LIC system messages: meaning and recommended action."""
    if mnemonic is not None:
        console.print(sysmsg.explain(mnemonic.upper()))
        return
    table = Table(title="%SMART_LIC system messages")
    table.add_column("message")
    table.add_column("text")
    for name, definition in sysmsg.CATALOG.items():
        table.add_row(f"%{definition.facility}-{int(definition.severity)}-{name}", definition.text)
    console.print(table)


def main() -> None:
    try:
        app()
    except SmartLicError as exc:
        err_console.print(f"[bold red]error:[/] {exc.diagnostics()}")
        sys.exit(1)


if __name__ == "__main__":
    main()
