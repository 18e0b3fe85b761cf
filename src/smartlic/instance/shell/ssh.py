"""The device shell over SSH (asyncssh): password auth, PTY, tty-like echo, many sessions.

Each channel gets a :class:`~smartlic.instance.shell.session.Session`. Input is handled one
character at a time as a terminal line discipline would: printable characters are echoed (not
while ``Password:`` is asked), ``\\r``, ``\\n`` and ``\\r\\n`` end a line, ``?`` prints help at
once and redraws the line, backspace, Ctrl-U, Ctrl-C and Ctrl-Z work, Tab completes a keyword,
and output longer than ``terminal length`` (24 by default; Netmiko and Unicon set 0) pauses at
`` --More-- ``. Commands run in a worker thread (the agent may do HTTP), one at a time per
session; characters typed meanwhile wait, as on a device. ``%SMART_LIC`` messages reach every
session while ``logging console`` is on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from smartlic._asyncssh import asyncssh
from smartlic.instance.shell.session import Device, Pager, Session

HOST_KEY_FILE = "ssh_host_ed25519_key"
MORE = " --More-- "


def load_host_key(folder: Path) -> asyncssh.SSHKey:
    """The host key kept in the state folder (created on first use, mode 0600)."""
    path = folder / HOST_KEY_FILE
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519")
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.export_private_key())
    tmp.replace(path)
    return key


class _Server(asyncssh.SSHServer):
    def __init__(self, device: Device, username: str, password: str) -> None:
        self._device = device
        self._username = username
        self._password = password

    def session_requested(self) -> ShellSession:
        return ShellSession(self._device)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        user_ok = secrets.compare_digest(username.encode(), self._username.encode())
        pass_ok = secrets.compare_digest(password.encode(), self._password.encode())
        return user_ok and pass_ok


class ShellSession(asyncssh.SSHServerSession):  # type: ignore[type-arg]
    def __init__(self, device: Device) -> None:
        self.device = device
        self.session: Session = device.session()
        self.chan: Any = None
        self.buffer = ""
        self.pty = False
        self.pending: collections.deque[str] = collections.deque()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.busy = False
        self.last_cr = False
        self.task: asyncio.Task[None] | None = None
        self.cancel_messages: Any = None
        self.loop = asyncio.get_running_loop()

    # --- asyncssh callbacks ------------------------------------------------------------------

    def connection_made(self, chan: Any) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size: Any, term_modes: Any) -> bool:
        self.pty = True
        if term_size and term_size[0]:
            self.session.width = int(term_size[0])
        return True

    def terminal_size_changed(self, width: int, height: int, pixw: int, pixh: int) -> None:
        if width:
            self.session.width = width

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.exec_command = command
        return True

    def session_started(self) -> None:
        self.cancel_messages = self.device.subscribe(self._message_threadsafe)
        command = getattr(self, "exec_command", None)
        if command is not None:
            self.task = asyncio.ensure_future(self._run_exec(command))
            return
        self._write("\n" + self.session.prompt)
        self.task = asyncio.ensure_future(self._consume())

    def data_received(self, data: str, datatype: Any) -> None:
        self.queue.put_nowait(data)

    def eof_received(self) -> bool:
        self.queue.put_nowait(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.chan = None
        if self.cancel_messages is not None:
            self.cancel_messages()
        if self.task is not None:
            self.task.cancel()

    # --- output ------------------------------------------------------------------------------

    def _write(self, text: str) -> None:
        if self.chan is None:
            return
        with contextlib.suppress(Exception):
            self.chan.write(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    def _exit(self) -> None:
        if self.chan is not None:
            with contextlib.suppress(Exception):
                self.chan.exit(0)

    def _message_threadsafe(self, line: str) -> None:
        self.loop.call_soon_threadsafe(self._message, line)

    def _message(self, line: str) -> None:
        if self.busy:
            self._write(line + "\n")
        else:
            self._write("\n" + line + "\n" + self.session.prompt + self.buffer)

    # --- input -------------------------------------------------------------------------------

    async def _run_exec(self, command: str) -> None:
        self.session.mode = "exec" if self.device.enable_secret is None else self.session.mode
        out = await asyncio.to_thread(self.session.execute, command)
        self._write(out)
        self._exit()

    async def _next_char(self) -> str | None:
        """The next typed character (None at end of input)."""
        while not self.pending:
            data = await self.queue.get()
            if data is None:
                return None
            self.pending.extend(data)
        return self.pending.popleft()

    async def _consume(self) -> None:
        while True:
            char = await self._next_char()
            if char is None:
                self._exit()
                return
            await self._char(char)
            if self.session.closed:
                self._exit()
                return

    async def _char(self, char: str) -> None:
        session = self.session
        if char in "\r\n":
            if char == "\n" and self.last_cr:
                self.last_cr = False
                return
            self.last_cr = char == "\r"
            await self._line()
            return
        self.last_cr = False
        if char == "?" and not session.awaiting_password:
            self._write("?\n" + session.execute(self.buffer + "?"))
            self._write(session.prompt + self.buffer)
        elif char in "\x7f\x08":
            if self.buffer:
                self.buffer = self.buffer[:-1]
                if not session.awaiting_password:
                    self._write("\b \b")
        elif char == "\x15":  # Ctrl-U
            if not session.awaiting_password:
                self._write("\b \b" * len(self.buffer))
            self.buffer = ""
        elif char == "\x03":  # Ctrl-C
            self.buffer = ""
            session.awaiting_password = False
            self._write("\n" + session.prompt)
        elif char == "\x1a":  # Ctrl-Z
            self.buffer = ""
            if session.mode in ("config", "config-line"):
                session.mode = "exec"
            self._write("^Z\n" + session.prompt)
        elif char == "\t":
            self._complete()
        elif char.isprintable():
            self.buffer += char
            if not session.awaiting_password:
                self._write(char)

    def _complete(self) -> None:
        words = self.session.complete(self.buffer)
        if len(words) != 1 or not self.buffer or self.buffer[-1].isspace():
            return
        partial = self.buffer.split()[-1]
        rest = words[0][len(partial) :] + " "
        if words[0].lower().startswith(partial.lower()):
            self.buffer += rest
            self._write(rest)

    async def _line(self) -> None:
        line, self.buffer = self.buffer, ""
        self._write("\n")
        self.busy = True
        try:
            out = await asyncio.to_thread(self.session.execute, line)
        finally:
            self.busy = False
        await self._page(out)
        if not self.session.closed:
            self._write(self.session.prompt)

    async def _page(self, out: str) -> None:
        """Write ``out``, pausing at `` --More-- `` every screen (``terminal length``; 0: never).
        Space shows the next screen, Return one more line, anything else stops."""
        length = self.session.length if self.pty else 0
        pager = Pager(out, length, self.session.width)
        self._write(pager.first())
        while not pager.done:
            self._write(MORE)
            char = await self._next_char()
            self._write("\b" * len(MORE) + " " * len(MORE) + "\b" * len(MORE))
            if char == " ":
                self._write(pager.screen())
            elif char in ("\r", "\n"):
                if char == "\r" and self.pending and self.pending[0] == "\n":
                    self.pending.popleft()
                self._write(pager.line())
            else:
                return


async def start_ssh_server(
    device: Device,
    *,
    host: str,
    port: int,
    username: str,
    password: str,
) -> asyncssh.SSHAcceptor:
    """Serve the shell on ``host:port``; the host key lives in the device's state folder."""
    key = load_host_key(device.folder)
    return await asyncssh.create_server(
        lambda: _Server(device, username, password),
        host,
        port,
        server_host_keys=[key],
        encoding="utf-8",
        errors="replace",
        line_editor=False,
    )
