"""The device shell on this terminal: prompt_toolkit on a tty, plain lines otherwise."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

from smartlic.instance.agent import Agent
from smartlic.instance.shell.session import Device, Pager, Session

HISTORY_FILE = ".shell_history"
MORE = " --More-- "


def page(session: Session, out: str, write: Callable[[str], None], key: Callable[[], str]) -> None:
    """Write ``out`` through the same pager as SSH (`` --More-- `` every ``terminal length``
    rows; Space: a screen, Return: a line, any other key: stop)."""
    pager = Pager(out, session.length, session.width)
    write(pager.first())
    while not pager.done:
        write(MORE)
        char = key()
        write("\b" * len(MORE) + " " * len(MORE) + "\b" * len(MORE))
        if char == " ":
            write(pager.screen())
        elif char in ("\r", "\n"):
            write(pager.line())
        else:
            return


def _read_key() -> str:  # pragma: no cover (needs a terminal)
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        return sys.stdin.read(1)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def run_lines(session: Session, lines: Iterable[str], out: TextIO) -> int:
    """Plain line mode: each line is echoed after the prompt (a console transcript).

    Nothing pauses: like an SSH channel without a PTY, piped input has no screen to fill.
    """

    def show(text: str) -> None:
        out.write(text + "\n")

    cancel = session.device.subscribe(show)
    try:
        for raw in lines:
            line = raw.rstrip("\r\n")
            shown = "" if session.awaiting_password else line
            out.write(session.prompt + shown + "\n")
            out.write(session.execute(line))
            out.flush()
            if session.closed:
                return 0
        return 0
    finally:
        cancel()


def run_tty(session: Session) -> int:  # pragma: no cover (needs a terminal)
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import Completer, Completion
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.patch_stdout import patch_stdout

    class ShellCompleter(Completer):
        def get_completions(self, document, complete_event):  # type: ignore[no-untyped-def]
            text = document.text_before_cursor
            partial = "" if not text or text[-1].isspace() else text.split()[-1]
            for word in session.complete(text):
                yield Completion(word, start_position=-len(partial))

    bindings = KeyBindings()

    @bindings.add("?")
    def _(event):  # type: ignore[no-untyped-def]
        buffer = event.app.current_buffer
        text = buffer.text
        help_text = session.execute(text + "?")

        def show() -> None:
            print(session.prompt + text + "?")
            print(help_text, end="")

        from prompt_toolkit.application import run_in_terminal

        run_in_terminal(show)

    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(session.device.folder / HISTORY_FILE)),
        completer=ShellCompleter(),
        key_bindings=bindings,
    )
    size = shutil.get_terminal_size()
    session.width, session.length = size.columns, size.lines

    def _write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    with patch_stdout():
        cancel = session.device.subscribe(lambda text: print(text))
        try:
            while not session.closed:
                try:
                    line = prompt.prompt(session.prompt, is_password=session.awaiting_password)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                page(session, session.execute(line), _write, _read_key)
        finally:
            cancel()
    return 0


def run_repl(
    agent: Agent,
    *,
    hostname: str | None = None,
    enable_secret: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    device = Device(agent, hostname=hostname, enable_secret=enable_secret)
    session = device.session()
    source = stdin or sys.stdin
    if stdin is None and source.isatty() and sys.stdout.isatty():
        return run_tty(session)
    return run_lines(session, source, stdout or sys.stdout)
