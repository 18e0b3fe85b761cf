"""The device and its command-line sessions: modes, prompts, and line handling (no I/O).

A :class:`Device` wraps one agent and holds what the device keeps beside it (hostname, enable
secret, console logging, the shell-only configuration lines and the startup-config file). Each
terminal or SSH connection is a :class:`Session`: ``execute(line)`` returns the text the device
prints and ``prompt`` the prompt to show next. Front ends only move bytes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smartlic.core.errors import SmartLicError
from smartlic.instance.agent import Agent
from smartlic.instance.records import SyslogEntry
from smartlic.instance.shell.render import Facts
from smartlic.instance.shell.tree import ParseError, Tree, apply_filters, split_filter

log = logging.getLogger("smartlic.instance.shell")

STARTUP_FILE = "startup-config.json"
MODES = ("user", "exec", "config", "config-line")
Listener = Callable[[str], None]


def _unknown_command(exc: ParseError, line: str) -> bool:
    """A configuration line whose first word is unknown: accepted (and kept) as devices do."""
    return exc.kind == "invalid" and exc.position == len(line) - len(line.lstrip())


def screen_rows(line: str, width: int) -> int:
    """Rows ``line`` takes on a terminal ``width`` columns wide (0: no limit).

    IOS does not break output text at ``terminal width``: the terminal folds a long line, and
    the pager counts the rows it folds into. So does this shell (parsers then see every line
    whole, whatever the width).
    """
    text = line.rstrip("\r\n")
    if width <= 0 or not text:
        return 1
    return -(-len(text) // width)


class Pager:
    """`` --More-- `` paging of one command's output, shared by the SSH and terminal fronts.

    ``length`` is ``terminal length`` (0 or 1: never pause), ``width`` is ``terminal width``.
    :meth:`first` gives what fits a screen (leaving a row for `` --More-- ``); then, while not
    :attr:`done`, :meth:`screen` (Space) or :meth:`line` (Return) give the next part.
    """

    def __init__(self, out: str, length: int, width: int) -> None:
        self.lines = out.splitlines(keepends=True)
        self.length = length
        self.width = width
        self.shown = 0

    @property
    def done(self) -> bool:
        return self.shown >= len(self.lines)

    def _take(self, rows: int) -> str:
        start = self.shown
        used = 0
        while self.shown < len(self.lines):
            need = screen_rows(self.lines[self.shown], self.width)
            if used and used + need > rows:
                break
            used += need
            self.shown += 1
        return "".join(self.lines[start : self.shown])

    def first(self) -> str:
        total = sum(screen_rows(line, self.width) for line in self.lines)
        if self.length <= 1 or total < self.length:
            self.shown = len(self.lines)
            return "".join(self.lines)
        return self._take(self.length - 1)

    def screen(self) -> str:
        return self._take(max(1, self.length - 1))

    def line(self) -> str:
        return self._take(1)


class Device:
    """One product instance as a network device: shared by all its sessions."""

    def __init__(
        self,
        agent: Agent,
        *,
        hostname: str | None = None,
        enable_secret: str | None = None,
    ) -> None:
        self.agent = agent
        self.enable_secret = enable_secret
        self.folder = Path(agent.store.folder)
        self.lock = threading.RLock()
        self.listeners: list[Listener] = []
        saved = self._load()
        if hostname and hostname != agent.identity.hostname:
            agent.set_hostname(hostname)
        self.logging_console: bool = saved.get("logging_console", True)
        self.boot_level: list[str] = saved.get("boot_level", [])
        self.features: list[str] = saved.get("features", [])
        self.other_lines: list[str] = saved.get("other_lines", [])
        self.line_config: dict[str, list[str]] = saved.get("line_config", {})
        self.changed_at: int | None = None
        self.current_line: str | None = None
        """The ``line ...`` being configured (``(config-line)#``)."""
        self.facts = Facts()
        previous = agent.on_message

        def on_message(entry: SyslogEntry) -> None:
            if previous is not None:
                previous(entry)
            self.notify(entry)

        agent.on_message = on_message
        from smartlic.instance.shell.commands import build_trees

        self.trees = build_trees()

    @property
    def hostname(self) -> str:
        """The agent's identity hostname (``hostname X`` changes it, persisted at once)."""
        return self.agent.identity.hostname

    @hostname.setter
    def hostname(self, name: str) -> None:
        self.agent.set_hostname(name)

    # --- startup configuration ---------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        path = self.folder / STARTUP_FILE
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self) -> None:
        """``write memory``: the shell-held configuration goes to the state folder."""
        data = {
            "hostname": self.hostname,
            "logging_console": self.logging_console,
            "boot_level": self.boot_level,
            "features": self.features,
            "other_lines": self.other_lines,
            "line_config": self.line_config,
        }
        path = self.folder / STARTUP_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        tmp.replace(path)

    # --- console messages --------------------------------------------------------------------

    def notify(self, entry: SyslogEntry) -> None:
        if not self.logging_console:
            return
        line = entry.console_line()
        for listener in list(self.listeners):
            listener(line)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)

        def cancel() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return cancel

    def session(self, *, privileged: bool = False) -> Session:
        return Session(self, privileged=privileged)


class Session:
    """One terminal on the device (console or vty)."""

    def __init__(self, device: Device, *, privileged: bool = False) -> None:
        self.device = device
        self.mode = "exec" if privileged else "user"
        self.width = 80
        self.length = 24
        self.awaiting_password = False
        self.password_tries = 0
        self.closed = False

    @property
    def agent(self) -> Agent:
        return self.device.agent

    @property
    def prompt(self) -> str:
        if self.awaiting_password:
            return "Password: "
        host = self.device.hostname
        return {
            "user": f"{host}>",
            "exec": f"{host}#",
            "config": f"{host}(config)#",
            "config-line": f"{host}(config-line)#",
        }[self.mode]

    def tree(self, mode: str | None = None) -> Tree:
        return self.device.trees[mode or self.mode]

    # --- lines -------------------------------------------------------------------------------

    def execute(self, line: str) -> str:
        """Run one line as the device does; returns what it prints (each line ends in ``\\n``)."""
        if self.awaiting_password:
            return self._password(line)
        if not line.strip():
            return ""
        if line.rstrip().endswith("?"):
            return self.help(line.rstrip()[:-1])
        prompt_len = len(self.prompt)
        try:
            with self.device.lock:
                return self._run(line)
        except ParseError as exc:
            return exc.render(prompt_len)
        except SmartLicError as exc:
            return f"% Error: {exc.reason}\n"
        except OSError as exc:
            return f"% Error: {exc.strerror or exc}\n"
        except Exception as exc:  # a bug must not end the session; it is logged with its trace
            log.exception("shell command failed: %r", line)
            return f"% Error: internal error ({type(exc).__name__}); see the instance log\n"

    def _run(self, line: str) -> str:
        mode = self.mode
        if mode in ("config", "config-line"):
            words = line.split()
            if words and "do".startswith(words[0].lower()) and len(words[0]) >= 2:
                rest = line[line.lower().index(words[0].lower()) + len(words[0]) :]
                return self._exec_line(rest.strip(), "exec")
            return self._config_line(line)
        return self._exec_line(line, mode)

    def _exec_line(self, line: str, mode: str) -> str:
        head, filters = split_filter(line)
        parsed = self.tree(mode).parse(head)
        out = parsed.action(self, **parsed.args) or ""
        if filters:
            out = apply_filters(out, filters)
        return out

    def _config_line(self, line: str) -> str:
        try:
            parsed = self.tree().parse(line)
        except ParseError as exc:
            if self.mode == "config-line":
                try:
                    parsed = self.tree("config").parse(line)
                except ParseError as global_exc:
                    if not _unknown_command(global_exc, line):
                        raise global_exc from None
                    self._accept_unknown(line)
                    return ""
                self.mode = "config"
            elif _unknown_command(exc, line):
                self._accept_unknown(line)  # a global command this emulation does not model
                return ""
            else:
                raise
        self.device.changed_at = self.agent.clock.now()
        return parsed.action(self, **parsed.args) or ""

    def _accept_unknown(self, line: str) -> None:
        text = " ".join(line.split())
        if text not in self.device.other_lines:
            self.device.other_lines.append(text)

    def _password(self, line: str) -> str:
        self.awaiting_password = False
        if line == self.device.enable_secret:
            self.mode = "exec"
            self.password_tries = 0
            return ""
        self.password_tries += 1
        if self.password_tries >= 3:
            self.password_tries = 0
            return "% Bad secrets\n\n"
        self.awaiting_password = True
        return ""

    def help(self, line: str) -> str:
        try:
            if self.mode in ("config", "config-line"):
                return self.tree().help(line)
            head, _ = split_filter(line)
            return self.tree().help(head)
        except ParseError as exc:
            if exc.kind == "unknown":
                return "% Unrecognized command\n"
            return exc.render(len(self.prompt))

    def complete(self, line: str) -> list[str]:
        return self.tree().complete(line)
