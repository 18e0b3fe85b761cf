"""``smartlic lab demo`` (``make demo``): a mixed lab of a few dozen instances and a narrated tour.

Trust established, usage reported (direct, through the utility by push and pull), ACKs and
policy installed, an air-gap round trip, the files of a disconnected utility carried to the
authority and back, an export-controlled license authorized; then a summary table, the URLs and
credentials, and the lab keeps running until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from smartlic._asyncssh import asyncssh
from smartlic.core.timefmt import DAY
from smartlic.lab.cli import topology_table, urls_table
from smartlic.lab.fleet import ACCOUNT, DISCONNECTED, VA, Lab, authority_cli_run


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def ssh_command(port: int, hostname: str, password: str, line: str) -> str:
    """One command over the lab's SSH server, as a network engineer types it."""

    async def go() -> str:
        async with asyncssh.connect(
            "127.0.0.1",
            port,
            username=hostname,
            password=password,
            known_hosts=None,
        ) as conn:
            result = await conn.run(line, check=False)
            return str(result.stdout)

    return asyncio.run(go())


def tour(
    console: Console, *, instances: int = 30, folder: Path | None = None, wait: bool = True
) -> Lab:
    owned = folder is None
    folder = folder or Path(tempfile.mkdtemp(prefix="smartlic-demo-"))
    step = 0

    def say(title: str) -> None:
        nonlocal step
        step += 1
        console.rule(f"[bold]{step}. {title}")

    say(f"Start a lab: an authority, two utilities and {instances} product instances (mixed)")
    with _progress(console) as bar:
        task = bar.add_task("starting instances", total=instances)
        lab = Lab.create(
            folder / "lab",
            instances=instances,
            topology="mixed",
            progress=lambda n: bar.advance(task, n),
        )
    try:
        counts: dict[str, int] = {}
        for m in lab.members:
            counts[m.topology] = counts.get(m.topology, 0) + 1
        console.print(
            ", ".join(f"{n} {t}" for t, n in counts.items())
            + f"; {sum(1 for m in lab.members if m.ha)} HA stacks"
        )

        say("Trust established: ID token on the directly connected instances (over SSH)")
        direct = lab.select("direct")
        token = lab.tokens["id_token"]
        assert lab.ssh_port is not None
        first = direct[0]
        console.print(f"[dim]ssh -p {lab.ssh_port} {first}@127.0.0.1[/dim]")
        console.print(f"{first}# license smart trust idtoken <token> local")
        ssh_command(lab.ssh_port, first, lab.password, f"license smart trust idtoken {token} local")
        with _progress(console) as bar:
            task = bar.add_task("trust", total=len(direct) - 1)
            for host in direct[1:]:
                lab.cli(host, f"license smart trust idtoken {token} local")
                bar.advance(task)
        trusted = sum(lab.agents[h].status().trust_installed for h in direct)
        console.print(f"trust codes installed on {trusted} of {len(direct)} direct instances")
        _messages(console, lab, "TRUST_INSTALL_SUCCESS", 2)

        say("Usage reported: a day passes; instances push, the utility collects from the rest")
        with _progress(console) as bar:
            task = bar.add_task("one day, every instance", total=len(lab.members))
            for host in lab.select("all"):
                lab.advance(DAY, host)
                bar.advance(task)
        for host in direct:
            lab.cli(host, "license smart sync all")
        assert lab.utility is not None
        collected = lab.utility.collect()
        reports = sum(int(r.get("collected") or 0) for r in collected)
        acked = sum(int(r.get("acked") or 0) for r in collected)
        console.print(
            f"utility Collect Usage (CSLU initiated): {reports} reports from "
            f"{len(collected)} instances, {acked} acknowledged"
        )

        say("ACKs and policy installed")
        _messages(console, lab, "POLICY_INSTALL_SUCCESS", 3)
        console.print(lab.cli(first, "show license status | section Usage Reporting"))

        say("An air-gap round trip: save usage, carry it to the authority, import the ACK")
        gapped = lab.select("air-gapped")[0]
        member = next(m for m in lab.members if m.hostname == gapped)
        flash = lab.folder / member.state / "flash"
        flash.mkdir(parents=True, exist_ok=True)
        console.print(f"{gapped}# license smart save usage all file flash:usage.txt")
        lab.cli(gapped, "license smart save usage all file flash:usage.txt")
        portal = lab.folder / "portal"
        portal.mkdir(exist_ok=True)
        shutil.copyfile(flash / "usage.txt", portal / "usage.txt")
        console.print(
            "$ smartlic authority usage upload usage.txt --account "
            f"'{ACCOUNT}' --va {VA} --ack ack.txt"
        )
        authority_cli_run(
            lab.folder / "authority", "usage", "upload", str(portal / "usage.txt"),
            "--account", ACCOUNT, "--va", VA, "--ack", str(portal / "ack.txt"),
        )  # fmt: skip
        shutil.copyfile(portal / "ack.txt", flash / "ack.txt")
        console.print(f"{gapped}# license smart import flash:ack.txt")
        console.print(lab.cli(gapped, "license smart import flash:ack.txt").strip())
        console.print(f"{gapped}: policy {lab.agents[gapped].status().policy_name!r}")

        _disconnected_round_trip(console, lab, say)

        say("An export-controlled license authorized (hseck9, authorization code)")
        console.print(f"{first}# license smart authorization request add hseck9 local")
        lab.cli(first, "license smart authorization request add hseck9 local")
        _messages(console, lab, "AUTHORIZATION_INSTALL_SUCCESS", 1)
        console.print(lab.cli(first, "show license authorization").rstrip())

        say("Summary")
        rows = lab.rows()
        console.print(topology_table(rows))
        console.print(urls_table(lab.urls(), lab.password, lab.tokens))
        console.print(f"lab folder: {lab.folder}")
        if wait:
            console.print("[bold]The lab is running. Press Ctrl-C to stop it.[/bold]")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                console.print("stopping")
    finally:
        lab.close()
        if owned and wait:
            shutil.rmtree(folder, ignore_errors=True)
    return lab


def _disconnected_round_trip(console: Console, lab: Lab, say: Callable[[str], None]) -> None:
    """The instances behind the disconnected utility get their ACKs through files."""
    utility = lab.utilities.get(DISCONNECTED)
    hosts = [m.hostname for m in lab.members if m.topology == "cslu-disconnected"]
    if utility is None or not hosts:
        return
    say("CSLU disconnected: Download All For Cisco, upload at the authority, Upload From Cisco")
    portal = lab.folder / "portal"
    portal.mkdir(exist_ok=True)
    console.print("$ smartlic utility download-all for-cisco.tar.gz --data utility-disconnected")
    utility.download_all(portal / "for-cisco.tar.gz")
    console.print(
        f"$ smartlic authority usage upload for-cisco.tar.gz --account '{ACCOUNT}' --va {VA} "
        "--ack from-cisco.tar.gz"
    )
    authority_cli_run(
        lab.folder / "authority", "usage", "upload", str(portal / "for-cisco.tar.gz"),
        "--account", ACCOUNT, "--va", VA, "--ack", str(portal / "from-cisco.tar.gz"),
    )  # fmt: skip
    console.print("$ smartlic utility upload-from from-cisco.tar.gz --data utility-disconnected")
    utility.upload_from(portal / "from-cisco.tar.gz")
    for host in hosts:  # their next push picks the ACKs up
        lab.cli(host, "license smart sync all")
    done = sum(lab.agents[h].status().policy_name is not None for h in hosts)
    console.print(f"policy installed on {done} of {len(hosts)} instances behind the utility")


def _messages(console: Console, lab: Lab, mnemonic: str, limit: int) -> None:
    seen = [line for line in lab.messages if f"-{mnemonic}:" in line]
    for line in seen[:limit]:
        console.print(line, highlight=False, markup=False)
    if len(seen) > limit:
        console.print(f"... and {len(seen) - limit} more {mnemonic}")
