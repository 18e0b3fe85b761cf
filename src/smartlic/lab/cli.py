"""``smartlic lab``: start a fleet, look at it, move its clocks, run scenarios, the demo.

``lab up`` starts the lab in a background process (``python -m smartlic.lab.server DIR``) and
writes ``lab.json`` to DIR; ``status``, ``time advance`` and ``down`` talk to that process over
its loopback control API. ``lab run`` starts a fresh lab of its own for each scenario, or,
with ``--lab DIR``, runs the scenarios in the lab already running there.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from smartlic.lab.fleet import DESCRIPTION, STARTED, TOPOLOGIES, USERNAME

app = typer.Typer(
    help="The lab: an authority, utilities and fleets of product instances (docs/lab.md).",
    no_args_is_help=True,
    add_completion=False,
)
time_app = typer.Typer(help="Move the instances' clocks.", no_args_is_help=True)
app.add_typer(time_app, name="time")
console = Console()

Dir = Annotated[Path, typer.Option("--dir", help="The lab's folder.", envvar="SMARTLIC_LAB_DIR")]
DEFAULT_DIR = Path("smartlic-lab")
SHOWN_ROWS = 40
"""Instances ``lab status`` lists one by one by default (the per-topology table counts all)."""


def _description(folder: Path) -> dict[str, Any]:
    path = folder / DESCRIPTION
    if not path.exists():
        console.print(f"[red]No lab in {folder}[/red] (start one with `smartlic lab up`).")
        raise typer.Exit(1)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _control(
    folder: Path, method: str, path: str, *, timeout: float | None = 600, **kwargs: Any
) -> Any:
    data = _description(folder)
    port = data.get("control_port")
    if not port:
        console.print(f"[red]The lab in {folder} is not running[/red] (`smartlic lab up`).")
        raise typer.Exit(1)
    try:
        response = httpx.request(
            method, f"http://127.0.0.1:{port}{path}", timeout=timeout, **kwargs
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]The lab in {folder} does not answer[/red]: {exc}")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        console.print(f"[red]Error:[/red] {response.text}")
        raise typer.Exit(1)
    return response.json()


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _when(value: int | None) -> str:
    return "-" if value is None else time.strftime("%Y-%m-%d", time.gmtime(value))


def status_table(rows: list[dict[str, Any]], title: str = "Lab instances") -> Table:
    table = Table(title=title)
    for column in ("hostname", "UDI", "topology", "HA", "trust", "policy", "unacked"):
        table.add_column(column, no_wrap=column in ("hostname", "UDI"))
    table.add_column("last ACK")
    table.add_column("next ACK deadline")
    for row in rows:
        table.add_row(
            row["hostname"],
            row["udi"],
            row["topology"],
            str(row["ha"]),
            "[green]yes[/green]" if row["trust"] else "no",
            row["policy"],
            str(row["unacked"]),
            _when(row["last_ack"]),
            _when(row["next_ack_deadline"]),
        )
    return table


def urls_table(urls: dict[str, str], password: str, tokens: dict[str, str]) -> Table:
    table = Table(title="Endpoints and credentials")
    table.add_column("what")
    table.add_column("where", overflow="fold")
    for name, url in urls.items():
        table.add_row(name, url)
    if "portal_user" in tokens:
        table.add_row("portal login", f"{tokens['portal_user']} / {tokens['portal_password']}")
    table.add_row("authority API token", tokens["api_token"])
    table.add_row("ID token (trust)", tokens["id_token"])
    table.add_row("device credentials", f"{USERNAME} / {password} (SSH: user = hostname or UDI)")
    return table


def topology_table(rows: list[dict[str, Any]]) -> Table:
    """Per topology: instances, trust installed, policy installed, reports waiting for an ACK."""
    table = Table(title="Fleet by topology")
    for column in ("topology", "instances", "HA stacks", "trust", "policy", "unacked reports"):
        table.add_column(column, justify="right" if column != "topology" else "left")
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["topology"], []).append(row)
    for name, group in groups.items():
        table.add_row(
            name,
            str(len(group)),
            str(sum(r["ha"] > 1 for r in group)),
            str(sum(bool(r["trust"]) for r in group)),
            str(sum(r["policy"] != "-" for r in group)),
            str(sum(r["unacked"] for r in group)),
        )
    return table


@app.command()
def up(
    folder: Dir = DEFAULT_DIR,
    instances: Annotated[int, typer.Option("--instances", "-n", help="How many.")] = 6,
    topology: Annotated[
        str, typer.Option("--topology", help=f"One of: {', '.join(TOPOLOGIES)}.")
    ] = "mixed",
) -> None:
    """Start a lab in the background (authority, utility, N product instances); a folder that
    already holds a stopped lab starts it again, as it was."""
    if topology not in TOPOLOGIES:
        raise typer.BadParameter(f"one of {', '.join(TOPOLOGIES)}", param_hint="--topology")
    existing = folder / DESCRIPTION
    if existing.exists() and json.loads(existing.read_text()).get("control_port"):
        console.print(f"[red]The lab in {folder} is running[/red] (`smartlic lab down` first).")
        raise typer.Exit(1)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lab.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "smartlic.lab.server", str(folder),
                "--instances", str(instances), "--topology", topology,
            ],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )  # fmt: skip
    resuming = existing.exists()
    total = len(json.loads(existing.read_text())["members"]) if resuming else instances
    with _bar() as bar:
        task = bar.add_task(f"starting the lab ({topology})", total=total)
        for _ in range(12_000):
            if proc.poll() is not None:
                console.print(f"[red]The lab failed to start[/red]; see {folder / 'lab.log'}")
                raise typer.Exit(1)
            path = folder / DESCRIPTION
            if path.exists() and json.loads(path.read_text()).get("control_port"):
                break
            with contextlib.suppress(OSError, ValueError):
                bar.update(task, completed=int((folder / STARTED).read_text() or 0))
            time.sleep(0.1)
    # The lab outlives this command (`smartlic lab down` stops it by pid): do not wait for it.
    proc.returncode = 0
    status(folder)


@app.command()
def status(
    folder: Dir = DEFAULT_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    rows: Annotated[
        int, typer.Option("--rows", help="Instances listed one by one (0: all).", min=0)
    ] = SHOWN_ROWS,
) -> None:
    """The lab's instances and endpoints."""
    data = _control(folder, "GET", "/status")
    if as_json:
        print(json.dumps(data, indent=2))
        return
    shown = data["rows"] if rows == 0 else data["rows"][:rows]
    console.print(status_table(shown, f"Lab in {folder} ({data['topology']})"))
    if len(shown) < len(data["rows"]):
        console.print(
            f"... and {len(data['rows']) - len(shown)} more instances "
            "(`--rows 0` lists them all, `--json` for scripts)"
        )
    console.print(topology_table(data["rows"]))
    console.print(urls_table(data["urls"], data["password"], data["tokens"]))


@app.command()
def down(folder: Dir = DEFAULT_DIR) -> None:
    """Stop the lab (its folder is kept; delete it to start afresh)."""
    data = _description(folder)
    pid = data.get("pid")
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)
        for _ in range(200):
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
    console.print(f"lab in {folder} stopped (`smartlic lab up --dir {folder}` starts it again)")


@time_app.command("advance")
def time_advance(
    folder: Dir = DEFAULT_DIR,
    days: Annotated[int, typer.Option("--days", help="Days to move forward.")] = 1,
    hours: Annotated[int, typer.Option("--hours", help="Hours to move forward.")] = 0,
    udi: Annotated[
        list[str] | None, typer.Option("--udi", help="Only this instance (UDI or hostname).")
    ] = None,
) -> None:
    """Advance clocks (all, or --udi), running each instance's due work day by day."""
    body = {"seconds": days * 86400 + hours * 3600, "on": udi}
    with ThreadPoolExecutor(max_workers=1) as pool, _bar() as bar:
        # no time limit: a day of ten thousand instances takes minutes
        future = pool.submit(_control, folder, "POST", "/advance", json=body, timeout=None)
        task = bar.add_task("instance-days", total=None)
        while not future.done():
            with contextlib.suppress(httpx.HTTPError, typer.Exit):
                seen = _control(folder, "GET", "/progress", timeout=5)
                bar.update(task, completed=seen["done"], total=seen["total"] or None)
            time.sleep(0.5)
        result = future.result()
    for line in result["lines"][-40:]:
        console.print(line, highlight=False)
    console.print(f"{len(result['lines'])} scheduled actions ran")


@app.command("exec")
def exec_(
    folder: Dir = DEFAULT_DIR,
    on: Annotated[str, typer.Option("--on", help="Hostname, UDI, topology or all.")] = "all",
    line: Annotated[str, typer.Argument(help="A device CLI line.")] = "show license summary",
) -> None:
    """Run one device CLI line on instances of a running lab."""
    result = _control(folder, "POST", "/cli", json={"line": line, "on": on})
    for host, out in result["outputs"].items():
        console.rule(host)
        console.print(out, highlight=False, markup=False)


@app.command()
def run(
    scenarios: Annotated[
        list[str], typer.Argument(help="Scenario files or shipped names (`all` for every one).")
    ],
    folder: Annotated[
        Path | None, typer.Option("--dir", help="Keep the scenario labs here.")
    ] = None,
    lab: Annotated[
        Path | None,
        typer.Option(
            "--lab",
            help="Run in the lab started by `smartlic lab up --dir LAB` instead of a fresh "
            "lab per scenario (the scenario's topology and instances are then not used).",
        ),
    ] = None,
) -> None:
    """Run scenarios, each in a fresh lab (or all in a running one, --lab); exit 1 if any
    expectation fails."""
    from smartlic.lab import scenario

    names = scenario.shipped_names() if scenarios == ["all"] else scenarios
    try:
        paths = [scenario.find(name) for name in names]
        loaded = [scenario.load(path) for path in paths]
    except (FileNotFoundError, ValueError, yaml.YAMLError) as exc:
        console.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(2) from None
    if lab is not None:
        if folder is not None:
            raise typer.BadParameter("use --lab or --dir, not both", param_hint="--lab")
        _report_all([_run_in(lab, path, data) for path, data in zip(paths, loaded, strict=True)])
        return
    base = folder or Path(tempfile.mkdtemp(prefix="smartlic-lab-"))
    template = base / "template"
    if not (template / "tokens.json").exists():
        from smartlic.lab.fleet import setup_authority

        template.mkdir(parents=True, exist_ok=True)
        with console.status("setting up the authority..."):
            tokens = setup_authority(template)
        (template / "tokens.json").write_text(json.dumps(tokens))
    reports = []
    for path in paths:
        with console.status(f"running {path.stem}..."):
            reports.append(scenario.run(path, base / path.stem, template=template))
        print_report(reports[-1])
    _report_all(reports, printed=True)


def _run_in(folder: Path, path: Path, data: dict[str, Any]) -> Any:
    """One scenario in the running lab of ``folder``, through its control API."""
    from smartlic.lab.scenario import Report, StepResult

    with console.status(f"running {path.stem} in the lab in {folder}..."):
        body = _control(folder, "POST", "/run", json={"scenario": data, "path": str(path)})
    steps = [StepResult(**step) for step in body.pop("steps")]
    return Report(**body, steps=steps)


def _report_all(reports: list[Any], *, printed: bool = False) -> None:
    failed = 0
    summary = Table(title="Scenarios")
    for column in ("scenario", "result", "steps", "seconds"):
        summary.add_column(column)
    for report in reports:
        if not printed:
            print_report(report)
        failed += not report.ok
        summary.add_row(
            report.name,
            "[green]PASS[/green]" if report.ok else "[red]FAIL[/red]",
            str(len(report.steps)),
            f"{report.seconds:.1f}",
        )
    if len(reports) > 1:
        console.print(summary)
    if failed:
        raise typer.Exit(1)


def print_report(report: Any) -> None:
    table = Table(title=f"{report.name} ({report.path})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("detail", overflow="fold")
    table.add_column("result")
    for step in report.steps:
        mark = "[green]pass[/green]" if step.ok else f"[red]FAIL[/red] {step.message}"
        table.add_row(str(step.number), step.kind, step.detail[:120], mark)
    console.print(table)
    for step in report.steps:
        if not step.ok:  # in full: the table cuts long messages
            console.print(f"step {step.number} ({step.kind}): {step.message}", markup=False)
    verdict = "[green]PASSED[/green]" if report.ok else "[red]FAILED[/red]"
    console.print(f"{verdict} {report.name} in {report.seconds:.1f} s")


@app.command()
def demo(
    instances: Annotated[int, typer.Option("--instances", "-n", help="How many.")] = 30,
    folder: Annotated[Path | None, typer.Option("--dir", help="The lab's folder.")] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return after the tour (do not wait for Ctrl-C).")
    ] = False,
) -> None:
    """A lab of a few dozen instances in a mixed topology and a narrated tour of SLP."""
    from smartlic.lab.demo import tour

    tour(console, instances=instances, folder=folder, wait=not no_wait)
