"""The SSH front end with a plain SSH client: auth, PTY, echo, line endings, sessions, messages."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import pytest

from smartlic.instance.shell.ssh import HOST_KEY_FILE, load_host_key
from tests.shell.server import PASSWORD, SECRET, USERNAME, Running, running
from tests.shell.states import build

T = TypeVar("T")


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    agent = build("fresh", Path(tmp_path_factory.mktemp("ssh")))
    with running(agent) as served:
        yield served
    agent.close()


def arun(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(factory(), 30))


async def connect(instance: Running, password: str = PASSWORD) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1",
        instance.ssh_port,
        username=USERNAME,
        password=password,
        known_hosts=None,
    )


class Term:
    """An interactive shell channel with a 511-column PTY, read until an expected text."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.seen = ""

    async def until(self, text: str, timeout: float = 10) -> str:
        async def read() -> str:
            while text not in self.seen:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise EOFError(self.seen)
                self.seen += chunk
            before, _, after = self.seen.partition(text)
            self.seen = after
            return before + text

        return await asyncio.wait_for(read(), timeout)

    def send(self, text: str) -> None:
        self.process.stdin.write(text)


async def open_term(conn: asyncssh.SSHClientConnection) -> Term:
    process = await conn.create_process(term_type="vt100", term_size=(511, 1000))
    term = Term(process)
    await term.until("switch-1>")
    return term


def test_wrong_password_is_refused(instance: Running) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        arun(lambda: connect(instance, "nope"))


def test_echo_line_endings_and_enable(instance: Running) -> None:
    async def scenario() -> list[str]:
        async with await connect(instance) as conn:
            term = await open_term(conn)
            out = []
            term.send("enable\r")
            out.append(await term.until("Password: "))
            term.send(SECRET + "\r")
            out.append(await term.until("switch-1#"))
            term.send("show license udi\r\n")  # CR LF: one line, not two
            out.append(await term.until("switch-1#"))
            term.send("terminal width 511\n")
            out.append(await term.until("switch-1#"))
            term.send("show lic")
            term.send("?")
            out.append(await term.until("switch-1#show lic"))
            term.send("\x15sh\t")
            out.append(await term.until("show "))
            term.send("\x15show clock\r")
            out.append(await term.until("switch-1#"))
            term.send("exit\r")
            await term.process.wait_closed()
            return out

    enable, secret, udi, width, help_, completed, clock = arun(scenario)
    assert completed.endswith("sh" + "ow ")
    assert enable.startswith("enable\r\n")
    assert SECRET not in secret
    assert udi.startswith("show license udi\r\nUDI: PID:C9300-24UX,SN:FCW2303D16Y\r\n")
    assert not udi.endswith("switch-1#\r\nswitch-1#")
    assert width == "terminal width 511\r\nswitch-1#"
    assert help_ == "show lic?\r\nlicense  \r\n\r\nswitch-1#show lic"
    assert "UTC" in clock


def test_many_sessions_at_once(instance: Running) -> None:
    async def one(index: int) -> str:
        async with await connect(instance) as conn:
            result = await conn.run("show license summary", check=True)
            return str(result.stdout)

    async def scenario() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(6))))

    outputs = arun(scenario)
    assert len(set(outputs)) == 1
    assert "network-advantage" in outputs[0]


def test_console_messages_follow_logging_console(instance: Running) -> None:
    async def scenario() -> tuple[str, str]:
        async with await connect(instance) as first, await connect(instance) as second:
            watcher = await open_term(first)
            actor = await open_term(second)
            actor.send(f"enable\r{SECRET}\r")
            await actor.until("switch-1#")
            actor.send("clock set 10:00:00 1 Dec 2023\r")
            await actor.until("switch-1#")
            shown = await watcher.until("switch-1>")
            actor.send("configure terminal\rno logging console\rend\r")
            await actor.until("switch-1#", 5)
            actor.send("clock set 11:00:00 1 Dec 2023\r")
            await actor.until("switch-1#")
            watcher.send("show clock\r")
            quiet = await watcher.until("switch-1>")
            actor.send("configure terminal\rlogging console\rend\r")
            await actor.until("switch-1(config)#")
            await actor.until("switch-1#")
            return shown, quiet

    shown, quiet = arun(scenario)
    assert "%SMART_LIC-5-SYSTEM_CLOCK_CHANGED" in shown
    assert "%SMART_LIC" not in quiet
    assert "11:00:" in quiet


def test_host_key_is_kept_in_the_state_folder(instance: Running) -> None:
    folder = Path(instance.agent.store.folder)
    path = folder / HOST_KEY_FILE
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    async def server_key() -> bytes:
        async with await connect(instance) as conn:
            key = conn.get_server_host_key()
            assert key is not None
            return bytes(key.public_data)

    assert arun(server_key) == bytes(load_host_key(folder).public_data)


def test_paging_follows_terminal_length(instance: Running) -> None:
    async def scenario() -> tuple[str, str, str, str]:
        async with await connect(instance) as conn:
            term = await open_term(conn)
            term.send("show license status\r")
            first = await term.until(" --More-- ")
            term.send(" ")
            second = await term.until(" --More-- ")
            term.send("q")
            stopped = await term.until("switch-1>")
            term.send("terminal length 0\rshow license status\r")
            await term.until("switch-1>")
            whole = await term.until("switch-1>")
            return first, second, stopped, whole

    first, second, stopped, whole = arun(scenario)
    assert first.count("\r\n") == 24  # the echoed command, then 23 lines
    assert second.count("\r\n") == 23
    assert "Trust Code Installed" not in stopped  # q stopped the output
    assert "--More--" not in whole
    assert whole.rstrip().endswith("Trust Code Installed: <none>\r\nswitch-1>")
