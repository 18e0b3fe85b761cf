"""One pager for both front ends: rows counted with ``terminal width`` (IOS does not break the
text; the terminal folds a long line), ``--More--`` every ``terminal length`` rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartlic.instance import Agent
from smartlic.instance.shell.repl import MORE, page
from smartlic.instance.shell.session import Device, Pager, Session, screen_rows
from tests.shell.states import build


@pytest.fixture
def sess(tmp_path: Path) -> Iterator[Session]:
    agent: Agent = build("fresh", tmp_path)
    yield Device(agent).session(privileged=True)
    agent.close()


def test_screen_rows() -> None:
    assert screen_rows("\n", 80) == 1
    assert screen_rows("x" * 80 + "\n", 80) == 1
    assert screen_rows("x" * 81 + "\n", 80) == 2
    assert screen_rows("x" * 500 + "\n", 0) == 1  # width 0: no limit


def test_pager_counts_folded_rows() -> None:
    out = "".join(f"{'x' * 30} {n}\n" for n in range(10))
    assert Pager(out, 0, 80).first() == out  # length 0: never pause
    assert Pager(out, 24, 80).first() == out  # fits
    wide = Pager(out, 6, 80)
    assert wide.first().count("\n") == 5
    narrow = Pager(out, 6, 20)  # each line folds into 2 rows
    assert narrow.first().count("\n") == 2
    assert narrow.line().count("\n") == 1
    assert narrow.screen().count("\n") == 2
    while not narrow.done:
        narrow.screen()
    assert narrow.shown == 10


def test_output_is_never_broken_at_the_width(sess: Session) -> None:
    sess.execute("terminal width 40")
    assert sess.width == 40
    text = sess.execute("show license tech support")
    assert max(len(line) for line in text.splitlines()) > 40  # whole lines for parsers


def test_local_terminal_pages_like_ssh(sess: Session) -> None:
    """The terminal front end pages with the same rules as SSH (see test_ssh paging)."""
    out = sess.execute("show license status")
    written: list[str] = []
    keys = iter([" ", "q"])
    sess.length, sess.width = 24, 511
    page(sess, out, written.append, lambda: next(keys))
    assert written[0].count("\n") == 23 and written[1] == MORE
    assert written[3].count("\n") == 23  # Space: one more screen
    assert written[-1].startswith("\b")  # q: stopped, the prompt is erased
    assert "Trust Code Installed" not in "".join(written)
    sess.execute("terminal length 0")
    written.clear()
    page(sess, out, written.append, lambda: "q")
    assert written == [out]
