"""Progress bars on the long commands: drawn for a person at a terminal (a real pseudo-terminal
here), never with ``--json`` and never when the output goes to a pipe."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from smartlic.core.keys import SigningKey
from smartlic.utility.service import Utility
from tests.utility import forge
from tests.utility.conftest import ACCOUNT, VA, AuthorityProc, new_udi, utility_cli

INSTANCES = 3


def on_terminal(data: Path, *args: str) -> tuple[int, str]:
    """Run ``smartlic utility ARGS`` with stdin, stdout and stderr on a pseudo-terminal."""
    main, sub = pty.openpty()
    fcntl.ioctl(sub, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartlic.utility", *args, "--data", str(data)],
        stdin=sub,
        stdout=sub,
        stderr=sub,
        env=env,
    )
    os.close(sub)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", errors="replace")


def _pushed(data: Path) -> None:
    """A disconnected utility holding two reports from each of a few instances."""
    utility = Utility(data)
    try:
        utility.configure(connected=False)
        key = SigningKey.generate()
        for _ in range(INSTANCES):
            udi = new_udi()
            request = forge.usage(udi, [forge.rum(key, udi, 1), forge.rum(key, udi, 2)])
            assert utility.handle(request.to_bytes()).status.value == "OK_POLL"
    finally:
        utility.close()


def _csv(tmp_path: Path) -> Path:
    csv = tmp_path / "devices.csv"
    csv.write_text(
        "host,port,udi,username,password\n"
        + "".join(f"10.9.0.{i},443,{new_udi()},admin,pw\n" for i in range(1, INSTANCES + 1))
    )
    return csv


def test_bars_on_a_terminal(shared_authority: AuthorityProc, tmp_path: Path) -> None:
    data = tmp_path / "util"
    _pushed(data)
    code, out = on_terminal(data, "device", "import-csv", str(_csv(tmp_path)))
    assert code == 0, out
    assert "Importing devices" in out
    assert f"{INSTANCES}/{INSTANCES}" in out
    assert f"{INSTANCES} device(s) imported" in out

    usage, ack = tmp_path / "usage.tar.gz", tmp_path / "ack.tar.gz"
    code, out = on_terminal(data, "download-all", str(usage))
    assert code == 0, out
    assert "Writing the usage file" in out
    assert f"{INSTANCES}/{INSTANCES}" in out
    assert f"{2 * INSTANCES} report(s) of {INSTANCES} instance(s) written" in out

    shared_authority.cli(
        "usage", "upload", "--account", ACCOUNT, "--va", VA, str(usage), "--ack", str(ack)
    )
    code, out = on_terminal(data, "upload-from", str(ack))
    assert code == 0, out
    assert "Verifying the ACK file" in out
    assert "Importing ACKs" in out
    assert f"{INSTANCES}/{INSTANCES}" in out
    assert f"{INSTANCES} ACK(s) imported, {2 * INSTANCES} report(s) acknowledged" in out


def test_no_bars_with_json_or_into_a_pipe(tmp_path: Path) -> None:
    data = tmp_path / "util"
    _pushed(data)
    usage = tmp_path / "usage.tar.gz"
    # --json on a terminal: only the JSON document.
    code, out = on_terminal(data, "device", "import-csv", str(_csv(tmp_path)), "--json")
    assert code == 0, out
    assert json.loads(out) == {"imported": INSTANCES}
    code, out = on_terminal(data, "download-all", str(usage), "--json")
    assert code == 0, out
    assert json.loads(out)["instances"] == INSTANCES
    # Into a pipe (a log, a script): the text answer, nothing on stderr.
    piped = utility_cli(data, "download-all", str(usage))
    assert piped.stderr == ""
    assert f"report(s) of {INSTANCES} instance(s) written" in piped.stdout
    piped = utility_cli(data, "device", "import-csv", str(_csv(tmp_path)))
    assert (piped.stderr, piped.stdout.strip()) == ("", f"{INSTANCES} device(s) imported")


def _flat(text: str) -> str:
    """An error as one line of words (Rich draws it in a box wrapped to the width)."""
    return " ".join(text.replace("│", " ").split())


def test_long_commands_refuse_unusable_files(tmp_path: Path) -> None:
    data = tmp_path / "util"
    missing = utility_cli(data, "device", "import-csv", str(tmp_path / "nope.csv"), check=False)
    assert missing.returncode == 2
    assert "does not exist" in _flat(missing.stderr)
    binary = tmp_path / "devices.csv"
    binary.write_bytes(b"\xff\xfe\x00host,port\x9c\n")
    refused = utility_cli(data, "device", "import-csv", str(binary), check=False)
    assert refused.returncode == 1
    assert "is not a UTF-8 text file" in _flat(refused.stderr)
    nowhere = utility_cli(data, "download-all", str(tmp_path / "no" / "usage.tar.gz"), check=False)
    assert nowhere.returncode == 2
    assert "does not exist" in _flat(nowhere.stderr)
